//! Shared pieces of cnfwd's benchmarks: the real routing tables, random
//! destinations spread across them, frames, and a forwarding configuration
//! holding a whole table.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cnfwd_config::model::{
    Config, IpAllocationType, L3IsolationDomain, L3Network, Neighbor, Port, PortMode, StaticRoute,
    TrunkedNetwork,
};
use cnfwd_config::{BackendKind, MacAddr};
use dataplane::fib::parse_prefix_list;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::Rng;

/// Folder of the shared routing tables.
pub const ROUTES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/routes/");

/// Reads one of `testdata/routes/*.txt.xz` (e.g. `ipv4-bgp.txt.xz`).
pub fn load_routes(name: &str) -> Vec<IpNet> {
    let path = format!("{ROUTES}{name}");
    let xz = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = Vec::new();
    lzma_rs::xz_decompress(&mut &xz[..], &mut text).expect("xz");
    let list = parse_prefix_list(std::str::from_utf8(&text).expect("utf-8")).expect("prefix list");
    list.into_iter().map(|(n, _)| n).collect()
}

/// A random address inside a random prefix of `table` (so lookups spread
/// over the whole table, as on a router, instead of staying in cache).
pub fn random_dst(table: &[IpNet], rng: &mut impl Rng) -> IpAddr {
    match table[rng.gen_range(0..table.len())] {
        IpNet::V4(p) => {
            let host = if p.prefix_len() == 32 {
                0
            } else {
                rng.gen::<u32>() >> p.prefix_len()
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(p.network()) | host))
        }
        IpNet::V6(p) => {
            let host = if p.prefix_len() == 128 {
                0
            } else {
                rng.gen::<u128>() >> p.prefix_len()
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(p.network()) | host))
        }
    }
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// A 64-byte 802.1Q-tagged UDP frame (IPv4 or IPv6 by the addresses' family;
/// IPv6 frames are 86 bytes), TTL/hop limit 64, valid IPv4 header checksum.
pub fn udp_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    vlan: u16,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&vlan.to_be_bytes());
    let udp = |f: &mut Vec<u8>, payload: usize| {
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&4789u16.to_be_bytes());
        f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend(std::iter::repeat_n(0xab, payload));
    };
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&[0x08, 0x00]);
            let payload = 64 - 18 - 20 - 8;
            let total = (20 + 8 + payload) as u16;
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[8] = 64;
            h[9] = 17;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&h);
            udp(&mut f, payload);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&[0x86, 0xdd]);
            let payload = 20;
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
            f.extend_from_slice(&[17, 64]);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
            udp(&mut f, payload);
        }
        _ => panic!("mixed address families"),
    }
    f
}

/// The MAC of the benchmark's ingress trunk port.
pub const IN_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// The MAC of the workload sending on the ingress trunk.
pub const HOST_MAC: [u8; 6] = [2, 0xaa, 0, 0, 0, 1];
/// VLAN of the ingress network on the trunk.
pub const IN_VLAN: u16 = 100;

/// The full L3 path of the benchmarks: trunk port `in` (VLAN 100 = network
/// `app`) and trunk port `out` (VLAN 200 = network `core`), one VRF holding
/// `routes` via the next hop on `core`: trunk in, VLAN classify, VRF LPM,
/// rewrite with VLAN rewrite, trunk out.
pub fn full_path_config(routes: &[IpNet]) -> Config {
    let mac = |m: [u8; 6]| MacAddr(m);
    let nh4: IpAddr = "10.200.0.254".parse().unwrap();
    let nh6: IpAddr = "fd00:200::fe".parse().unwrap();
    let static_routes = routes
        .iter()
        .filter(|p| p.prefix_len() > 0)
        .map(|&prefix| StaticRoute {
            prefix,
            next_hop: Some(if matches!(prefix, IpNet::V4(_)) {
                nh4
            } else {
                nh6
            }),
            network: None,
        })
        .collect();
    let l3 = |name: &str, vlan: u32, p4: &str, p6: &str, neighbors: Vec<Neighbor>| L3Network {
        name: name.into(),
        vlan,
        l3_isolation_domain: "vrf".into(),
        ip_allocation_type: IpAllocationType::DualStack,
        ipv4_connected_prefix: Some(p4.parse::<Ipv4Net>().unwrap()),
        ipv6_connected_prefix: Some(p6.parse::<Ipv6Net>().unwrap()),
        ipv4_gateway: None,
        ipv6_gateway: None,
        mtu: 1500,
        interface_name: None,
        neighbors,
        source_check: Default::default(),
    };
    let trunk_port = |name: &str, m: [u8; 6], trunk: &str| Port {
        name: name.into(),
        backend: BackendKind::Pcap,
        mac: Some(mac(m)),
        mtu: None,
        numa_node: None,
        mode: PortMode::Trunk,
        networks: vec![],
        trunked_network: Some(trunk.into()),
        rx_pcap: None,
        tx_pcap: None,
        interface: None,
        device: None,
    };
    let trunk = |name: &str, vlan: u32| TrunkedNetwork {
        name: name.into(),
        vlans: vec![vlan],
        isolation_domains: vec![],
        interface_name: None,
    };
    Config {
        l3_isolation_domains: vec![L3IsolationDomain {
            name: "vrf".into(),
            static_routes,
        }],
        l3_networks: vec![
            l3(
                "app",
                IN_VLAN as u32,
                "10.100.0.0/16",
                "fd00:100::/64",
                vec![],
            ),
            l3(
                "core",
                200,
                "10.200.0.0/16",
                "fd00:200::/64",
                vec![
                    Neighbor {
                        ip: nh4,
                        mac: mac([2, 0xcc, 0, 0, 0, 0xfe]),
                    },
                    Neighbor {
                        ip: nh6,
                        mac: mac([2, 0xcc, 0, 0, 0, 0xfe]),
                    },
                ],
            ),
        ],
        trunked_networks: vec![trunk("t-in", IN_VLAN as u32), trunk("t-out", 200)],
        ports: vec![
            trunk_port("in", IN_MAC, "t-in"),
            trunk_port("out", [2, 0, 0, 0, 0, 2], "t-out"),
        ],
        ..Default::default()
    }
}
