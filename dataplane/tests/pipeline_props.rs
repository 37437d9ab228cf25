//! Property tests of the whole pipeline through the engine and the memory
//! backend: arbitrary bytes and mutated valid frames never panic, every
//! packet is forwarded or counted under one drop reason, and a forwarded
//! IPv4 packet always leaves with a correct header checksum.

use dataplane::engine::Worker;
use dataplane::io::memory::MemoryBackend;
use dataplane::tables::Tables;
use proptest::prelude::*;

// Announcements at start are off: these tests count what forwarding sends
// (the pcap-tests corpus checks the announcements).
const CONFIG: &str = r#"
[slow_path]
announce = false

[[l3_isolation_domains]]
name = "v"
[[l3_isolation_domains.static_routes]]
prefix = "0.0.0.0/0"
next_hop = "10.2.0.254"
[[l3_isolation_domains.static_routes]]
prefix = "::/0"
next_hop = "fd02::fe"
[[l3_networks]]
name = "a"
vlan = 100
l3_isolation_domain = "v"
ipv4_connected_prefix = "10.1.0.0/16"
ipv6_connected_prefix = "fd01::/64"
neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:00:10" }]
[[l3_networks]]
name = "b"
vlan = 200
l3_isolation_domain = "v"
ipv4_connected_prefix = "10.2.0.0/16"
ipv6_connected_prefix = "fd02::/64"
mtu = 1400
neighbors = [{ ip = "10.2.0.254", mac = "02:bb:00:00:00:fe" }, { ip = "fd02::fe", mac = "02:bb:00:00:00:fe" }]
[[l2_networks]]
name = "l2"
vlan = 300
[[trunked_networks]]
name = "t"
vlans = [100, 300]
[[ports]]
name = "trunk"
backend = "pcap"
mac = "02:00:00:00:00:01"
mode = "trunk"
trunked_network = "t"
[[ports]]
name = "b"
backend = "pcap"
mac = "02:00:00:00:00:02"
mode = "access"
networks = ["b"]
[[ports]]
name = "l2"
backend = "pcap"
mac = "02:00:00:00:00:03"
mode = "access"
networks = ["l2"]
"#;

fn tables() -> Tables {
    let cfg = cnfwd_config::parse(CONFIG, "<test>").unwrap();
    let r = cnfwd_config::resolve(&cfg).unwrap();
    Tables::build(&r, &[]).unwrap()
}

/// A valid tagged IPv4/UDP frame to cnfwd on VLAN 100.
fn valid_frame(dst: [u8; 4], ttl: u8) -> Vec<u8> {
    let mut f = vec![
        2, 0, 0, 0, 0, 1, 2, 0xaa, 0, 0, 0, 0x10, 0x81, 0x00, 0x00, 100, 0x08, 0x00,
    ];
    let mut ip = [
        0x45, 0, 0, 28, 0, 0, 0, 0, ttl, 17, 0, 0, 10, 1, 0, 10, dst[0], dst[1], dst[2], dst[3],
    ];
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
    f
}

fn checksum(h: &[u8]) -> u16 {
    let mut s: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let arbitrary = proptest::collection::vec(any::<u8>(), 0..200);
    let mutated = (
        any::<[u8; 4]>(),
        any::<u8>(),
        proptest::collection::vec((0usize..60, any::<u8>()), 0..4),
    )
        .prop_map(|(dst, ttl, flips)| {
            let mut f = valid_frame(dst, ttl);
            for (at, v) in flips {
                if at < f.len() {
                    f[at] = v;
                }
            }
            f
        });
    let valid = (any::<[u8; 4]>(), 2u8..=255).prop_map(|(d, t)| valid_frame(d, t));
    proptest::collection::vec(prop_oneof![arbitrary, mutated, valid], 1..80)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_packet_is_forwarded_or_counted(frames in frames(), burst in 1usize..=64) {
        let t = tables();
        let mut backend = MemoryBackend::new(3);
        for f in &frames {
            backend.inject(0, f);
        }
        let mut w = Worker::new(&t, burst);
        w.run_to_completion(&mut backend, &t).unwrap();
        let (rx, tx, dropped) = w.stats.totals();
        prop_assert_eq!(rx, frames.len() as u64);
        prop_assert_eq!(rx + w.stats.added(), tx + dropped);
        let sent: usize = (0..3).map(|p| backend.sent(p).len()).sum();
        prop_assert_eq!(sent as u64, tx);
        for f in backend.sent(1) {
            // Routed out of access port "b": untagged IPv4 with a valid header checksum.
            if f.len() >= 34 && f[12..14] == [0x08, 0x00] {
                let ihl = usize::from(f[14] & 0xf) * 4;
                prop_assert_eq!(checksum(&f[14..14 + ihl]), 0);
            }
        }
    }
}

#[test]
fn valid_frames_are_routed_with_ttl_and_checksum_updated() {
    let t = tables();
    let mut backend = MemoryBackend::new(3);
    backend.inject(0, &valid_frame([192, 0, 2, 1], 64));
    backend.inject(0, &valid_frame([192, 0, 2, 1], 1));
    let mut w = Worker::new(&t, 32);
    w.run_to_completion(&mut backend, &t).unwrap();
    let out = backend.sent(1);
    assert_eq!(out.len(), 1);
    let f = &out[0];
    assert_eq!(&f[0..12], &[2, 0xbb, 0, 0, 0, 0xfe, 2, 0, 0, 0, 0, 2]);
    assert_eq!(&f[12..14], &[0x08, 0x00], "tag popped for the access port");
    assert_eq!(f[14 + 8], 63);
    assert_eq!(checksum(&f[14..34]), 0);
    let drops = w.stats.drops();
    assert_eq!(
        drops[dataplane::pipeline::DropReason::TtlExpired as usize],
        1
    );
}

#[test]
fn tx_queue_full_is_counted_and_nothing_leaks() {
    let t = tables();
    let mut backend = MemoryBackend::new(3);
    backend.ports[1].tx_limit = Some(3);
    for i in 0..10u8 {
        backend.inject(0, &valid_frame([192, 0, 2, i], 64));
    }
    let mut w = Worker::new(&t, 32);
    w.run_to_completion(&mut backend, &t).unwrap();
    assert_eq!(backend.sent(1).len(), 3);
    let drops = w.stats.drops();
    assert_eq!(drops[dataplane::pipeline::DropReason::TxFull as usize], 7);
    assert_eq!(w.stats.ports[1].tx_packets, 3);
    // 46-byte tagged frames leave untagged: 42 bytes each.
    assert_eq!(w.stats.ports[1].tx_bytes, 3 * 42);
    let (rx, tx, dropped) = w.stats.totals();
    assert_eq!((rx, tx, dropped), (10, 3, 7));
}
