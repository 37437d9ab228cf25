//! The DNS hold with two workers: a DNS response that teaches an address is
//! held on the worker that received it until the other worker installed the
//! address (so a SYN landing there right after is allowed), and is sent
//! anyway, counted, when the other worker does not answer within
//! `dns_hold_max_ms`.

use std::sync::Arc;

use dataplane::csn::{CsnCounter, LearnSync};
use dataplane::engine::Worker;
use dataplane::io::memory::MemoryBackend;
use dataplane::tables::Tables;

const CONFIG: &str = r#"
[[l3_isolation_domains]]
name = "v"
[[l3_isolation_domains.static_routes]]
prefix = "0.0.0.0/0"
next_hop = "10.9.0.254"
[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "v"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"
neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }]
[[l3_networks]]
name = "csn"
vlan = 900
l3_isolation_domain = "v"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.9.0.0/24"
neighbors = [{ ip = "10.9.0.254", mac = "02:cc:00:00:09:fe" }]
[[ports]]
name = "app"
backend = "pcap"
mac = "02:00:00:00:01:01"
mode = "access"
networks = ["app"]
[[ports]]
name = "csn"
backend = "pcap"
mac = "02:00:00:00:09:01"
mode = "access"
networks = ["csn"]
[cloud_services_network]
network = "csn"
enable_default_egress_endpoints = false
additional_egress_endpoints = [{ category = "t", endpoints = [
  { domain_name = "192.0.2.53", port = 53 },
  { domain_name = "api.example.com", port = 443 },
] }]
[cloud_services_network.settings]
flow_capacity = 1000
dns_hold_max_ms = HOLD
# The tests count what forwarding sends; announcements are checked elsewhere.
[slow_path]
announce = false
"#;

fn tables(hold_ms: u32) -> Tables {
    let cfg = cnfwd_config::parse(&CONFIG.replace("HOLD", &hold_ms.to_string()), "<t>").unwrap();
    Tables::build(&cnfwd_config::resolve(&cfg).unwrap(), &[]).unwrap()
}

fn csum(h: &[u8]) -> u16 {
    let mut s: u32 = h
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Ethernet + IPv4 + L4 (`l4` complete, checksum left 0: cnfwd does not
/// check L4 checksums).
fn frame(dst_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = dst_mac.to_vec();
    f.extend_from_slice(&[2, 0xbb, 0, 0, 0, 1, 0x08, 0x00]);
    let total = (20 + l4.len()) as u16;
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        proto,
        0,
        0,
    ];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(l4);
    f
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    let mut u = [
        sport.to_be_bytes(),
        dport.to_be_bytes(),
        len.to_be_bytes(),
        [0, 0],
    ]
    .concat();
    u.extend_from_slice(payload);
    u
}

fn syn(sport: u16, dport: u16) -> Vec<u8> {
    let mut t = [sport.to_be_bytes(), dport.to_be_bytes()].concat();
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

/// api.example.com A 198.18.0.5, TTL 300.
fn dns_response() -> Vec<u8> {
    let mut m = vec![0, 7, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    let name = [&[3u8][..], b"api", &[7], b"example", &[3], b"com", &[0]].concat();
    m.extend_from_slice(&name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 198, 18, 0, 5]);
    m
}

const APP_MAC: [u8; 6] = [2, 0, 0, 0, 1, 1];
const CSN_MAC: [u8; 6] = [2, 0, 0, 0, 9, 1];
const HOST: [u8; 4] = [10, 1, 0, 10];
const NS: [u8; 4] = [192, 0, 2, 53];
const API: [u8; 4] = [198, 18, 0, 5];

struct Two {
    t: Tables,
    w: [Worker<MemoryBackend>; 2],
    b: [MemoryBackend; 2],
}

fn two(hold_ms: u32) -> Two {
    let t = tables(hold_ms);
    let sync = Arc::new(LearnSync::new(2));
    let mut w = [Worker::new(&t, 32), Worker::new(&t, 32)];
    for (i, w) in w.iter_mut().enumerate() {
        w.set_csn(i, Arc::clone(&sync), &t);
    }
    Two {
        t,
        w,
        b: [MemoryBackend::new(2), MemoryBackend::new(2)],
    }
}

impl Two {
    fn poll(&mut self, i: usize, port: u16) {
        self.w[i].poll(&mut self.b[i], &self.t, port).unwrap();
    }
}

/// Worker 0 opens the DNS flow and receives the response.
fn query_and_response(x: &mut Two) {
    x.b[0].inject(0, &frame(APP_MAC, HOST, NS, 17, &udp(40053, 53, b"query")));
    x.poll(0, 0);
    assert_eq!(x.b[0].sent(1).len(), 1, "query forwarded");
    x.b[0].inject(
        1,
        &frame(CSN_MAC, NS, HOST, 17, &udp(53, 40053, &dns_response())),
    );
    x.poll(0, 1);
}

#[test]
fn response_is_held_until_the_other_worker_installed_the_address() {
    let mut x = two(10_000);
    query_and_response(&mut x);
    assert_eq!(x.b[0].sent(0).len(), 0, "response held");
    assert_eq!(x.w[0].held(), 1);
    // Worker 0 polls again: worker 1 has not acknowledged, still held.
    x.poll(0, 0);
    assert_eq!(x.b[0].sent(0).len(), 0);
    // Worker 1 polls (drains its learn queue), then worker 0 releases.
    x.poll(1, 0);
    x.poll(0, 0);
    assert_eq!(x.b[0].sent(0).len(), 1, "response delivered after the ack");
    assert_eq!(x.w[0].held(), 0);
    // The workload's SYN lands on worker 1: allowed, not denied.
    x.b[1].inject(0, &frame(APP_MAC, HOST, API, 6, &syn(41000, 443)));
    x.poll(1, 0);
    assert_eq!(
        x.b[1].sent(1).len(),
        1,
        "SYN to the learned address forwarded"
    );
    let s = &x.w[0].stats;
    assert_eq!(s.csn.get(CsnCounter::DnsHeld), 1);
    assert_eq!(s.csn.get(CsnCounter::DnsHoldTimeout), 0);
    let (rx, tx, dropped) = s.totals();
    assert_eq!(rx, tx + dropped);
}

#[test]
fn hold_is_bounded_and_counted_when_a_worker_does_not_answer() {
    let mut x = two(20);
    query_and_response(&mut x);
    assert_eq!(x.b[0].sent(0).len(), 0, "response held");
    std::thread::sleep(std::time::Duration::from_millis(30));
    x.poll(0, 0);
    assert_eq!(x.b[0].sent(0).len(), 1, "sent when dns_hold_max_ms passed");
    assert_eq!(x.w[0].stats.csn.get(CsnCounter::DnsHoldTimeout), 1);
    // Worker 1 never polled: without the hold its SYN would be denied, which
    // is what the bound trades for a lost response.
    let (rx, tx, dropped) = x.w[0].stats.totals();
    assert_eq!(rx, tx + dropped);
}

#[test]
fn held_packets_are_sent_at_finish() {
    let mut x = two(10_000);
    query_and_response(&mut x);
    assert_eq!(x.w[0].held(), 1);
    x.w[0].finish(&mut x.b[0]).unwrap();
    assert_eq!(x.b[0].sent(0).len(), 1);
    let (rx, tx, dropped) = x.w[0].stats.totals();
    assert_eq!(rx, tx + dropped, "stats invariant holds after the flush");
}
