//! Port faults under traffic (issue 13): an AF_PACKET interface deleted
//! and re-created, then set down and up, while `cnfwd run` forwards
//! between real Linux hosts.
//!
//! ```text
//!   h1 10.1.0.10/24 --- a (ra) \
//!   h2 10.2.0.10/24 --- b (rb)  }  cnfwd, 2 workers (fanout)
//!   h3 10.3.0.10/24 --- c (rc) /
//! ```
//!
//! Port b is the one that fails. While it is gone (or down) h1 keeps
//! reaching h3 through a and c, cnfwd reports the loss once, its probes
//! and stats say so, and what it routes to b is counted as `port_down`;
//! once rb is back (re-created under the same name with a new ifindex, or
//! set up) cnfwd reports that once, reopens the port when needed, and h2
//! reaches h3 again. cnfwd never exits or panics.
//!
//! Needs root and `ip netns` (else it prints a line and passes) and
//! `ping`. Everything is made in namespaces unique to the process and
//! deleted afterwards, also on failure (`common::hosts::Lab`).

mod common;

use std::time::{Duration, Instant};

use common::hosts::{assert_accounted, can_run, ip, mac_text, port_drop, sysctl, Cnfwd, Host, Lab};
use serde_json::Value;

const PORT_MAC: [[u8; 6]; 3] = [
    [0x02, 0xcf, 0, 0, 0x1a, 0x01],
    [0x02, 0xcf, 0, 0, 0x1b, 0x01],
    [0x02, 0xcf, 0, 0, 0x1c, 0x01],
];
const HOST_MAC: [[u8; 6]; 3] = [
    [0x02, 0xee, 0, 0, 0x1a, 0x10],
    [0x02, 0xee, 0, 0, 0x1b, 0x10],
    [0x02, 0xee, 0, 0, 0x1c, 0x10],
];
const HOST_ADDR: [&str; 3] = ["10.1.0.10", "10.2.0.10", "10.3.0.10"];
const GATEWAY: [&str; 3] = ["10.1.0.1", "10.2.0.1", "10.3.0.1"];

const CONFIG: &str = r#"
[engine]
workers = 2
idle = "adaptive"

[[l3_isolation_domains]]
name = "red"

[[l3_networks]]
name = "na"
vlan = 101
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"

[[l3_networks]]
name = "nb"
vlan = 102
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"

[[l3_networks]]
name = "nc"
vlan = 103
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.3.0.0/24"

[[ports]]
name = "a"
backend = "af_packet"
interface = "ra"
mode = "access"
networks = ["na"]

[[ports]]
name = "b"
backend = "af_packet"
interface = "rb"
mode = "access"
networks = ["nb"]

[[ports]]
name = "c"
backend = "af_packet"
interface = "rc"
mode = "access"
networks = ["nc"]
"#;

/// `ping -c n` from `from` to `dst`; the number of replies.
fn pings(from: &Host, dst: &str, n: u32) -> u32 {
    let r = from.run(
        &[
            "ping",
            "-n",
            "-c",
            &n.to_string(),
            "-i",
            "0.1",
            "-W",
            "2",
            dst,
        ],
        Duration::from_secs(30),
    );
    r.stdout
        .lines()
        .find_map(|l| {
            let (_, rest) = l.split_once(" transmitted, ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// Waits (at most 10 s) until cnfwd's log holds `line`.
fn wait_log(c: &Cnfwd, line: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    while !c.log_text().contains(line) {
        assert!(
            Instant::now() < end,
            "cnfwd never printed {line:?}:\n{}",
            c.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Port `name`'s link state in `/stats` once it reads `want` (the
/// workers publish it at their next link check), or what it last read
/// after 5 s.
fn stats_link_state(c: &Cnfwd, name: &str, want: &str) -> Value {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let state = c.call("/stats", None)["ports"][name]["link"]["state"].clone();
        if state == want || Instant::now() >= end {
            return state;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Port `name`'s entry in `/health`.
fn health_port(c: &Cnfwd, name: &str) -> Value {
    let h = c.call("/health", None);
    h["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no port {name} in /health: {h}"))
}

/// Waits (at most 10 s) until `/health` says port `name` is `up`.
fn wait_health(c: &Cnfwd, name: &str, up: bool) -> Value {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let p = health_port(c, name);
        if p["up"] == up {
            return p;
        }
        assert!(
            Instant::now() < end,
            "port {name} never {}: {p}\n{}",
            if up { "up" } else { "down" },
            c.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn port_counter(stats: &Value, port: &str, k: &str) -> u64 {
    stats["ports"][port][k].as_u64().unwrap_or(0)
}

/// Re-creates the veth pair of port b: `rb` in the router, `eth0` in h2,
/// same MACs, h2's address and route again.
fn recreate_b(lab: &Lab, h2: &Host) {
    ip(&[
        "-n",
        &lab.router,
        "link",
        "add",
        "rb",
        "address",
        &mac_text(PORT_MAC[1]),
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "address",
        &mac_text(HOST_MAC[1]),
        "netns",
        &h2.ns,
    ])
    .expect("re-create rb");
    sysctl(&lab.router, "net/ipv6/conf/rb/disable_ipv6", "1");
    sysctl(&h2.ns, "net/ipv6/conf/eth0/disable_ipv6", "1");
    // The far end first: rb comes up with its carrier (else cnfwd would
    // rightly see it down, without carrier, for a moment).
    ip(&["-n", &h2.ns, "link", "set", "eth0", "up"]).expect("h2 eth0 up");
    ip(&["-n", &lab.router, "link", "set", "rb", "up"]).expect("rb up");
    h2.address("10.2.0.10/24", GATEWAY[1]);
}

/// The number of times `needle` occurs in `hay`.
fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn a_port_deleted_recreated_and_set_down_under_traffic() {
    if !can_run(
        "a_port_deleted_recreated_and_set_down_under_traffic",
        &["ping"],
    ) {
        return;
    }
    let mut lab = Lab::new("faults");
    let mut h = Vec::new();
    for k in 0..3 {
        let port = ["ra", "rb", "rc"][k];
        let host = lab.host(&format!("h{}", k + 1), HOST_MAC[k], port, PORT_MAC[k], 1500);
        // Only IPv4: no DAD to wait for.
        sysctl(&host.ns, "net/ipv6/conf/eth0/disable_ipv6", "1");
        host.address(&format!("{}/24", HOST_ADDR[k]), GATEWAY[k]);
        h.push(host);
    }
    let c = Cnfwd::start(&lab, CONFIG);
    let (h1, h2) = (&h[0], &h[1]);

    // Before: both paths work; every port up.
    assert_eq!(pings(h1, HOST_ADDR[2], 5), 5, "h1 -> h3 before");
    assert_eq!(pings(h2, HOST_ADDR[2], 5), 5, "h2 -> h3 before");
    assert_eq!(wait_health(&c, "b", true)["up"], true);

    // 1. rb deleted (h2's eth0 with it), under traffic from h1.
    let h1_pinger = h1.spawn(&["ping", "-n", "-i", "0.02", "-c", "300", HOST_ADDR[2]]);
    std::thread::sleep(Duration::from_millis(300));
    ip(&["-n", &lab.router, "link", "del", "rb"]).expect("delete rb");
    let gone_at = Instant::now();
    wait_log(&c, "cnfwd: port b (rb): interface gone");
    let detected = gone_at.elapsed();
    let p = wait_health(&c, "b", false);
    assert_eq!(p["state"], "missing", "{p}");
    // The workers' counters follow at their next link check.
    assert_eq!(stats_link_state(&c, "b", "gone"), "gone");
    // The other ports keep forwarding: h1 -> h3 and back, every ping.
    let before = c.call("/stats", None);
    assert_eq!(pings(h1, HOST_ADDR[2], 10), 10, "h1 -> h3 while rb is gone");
    // Routed to b (h2 is a known neighbour): counted, not sent.
    assert_eq!(pings(h1, HOST_ADDR[1], 3), 0, "h1 -> h2 while rb is gone");
    let during = c.call("/stats", None);
    assert!(
        port_counter(&during, "c", "tx_packets") >= port_counter(&before, "c", "tx_packets") + 10,
        "port c stopped forwarding: {} -> {}",
        before["ports"]["c"],
        during["ports"]["c"]
    );
    assert!(
        port_counter(&during, "a", "rx_packets") >= port_counter(&before, "a", "rx_packets") + 13,
        "port a stopped receiving"
    );
    assert!(
        port_drop(&during, "b", "port_down") >= 3,
        "{}",
        during["ports"]["b"]
    );
    let pinger = h1_pinger.finish(Duration::from_secs(20));
    assert!(
        pinger.stdout.contains(" 0% packet loss"),
        "h1's ping flood to h3 lost packets while rb was deleted:\n{}",
        pinger.stdout
    );

    // 2. rb re-created (same name, new ifindex): reopened, h2 reaches h3.
    recreate_b(&lab, h2);
    wait_log(
        &c,
        "cnfwd: port b (rb): back: interface re-created (ifindex ",
    );
    wait_health(&c, "b", true);
    assert_eq!(pings(h2, HOST_ADDR[2], 5), 5, "h2 -> h3 after re-creation");
    assert_eq!(pings(h1, HOST_ADDR[1], 5), 5, "h1 -> h2 after re-creation");

    // 3. rb set down, then up: the socket stays bound, nothing to reopen.
    ip(&["-n", &lab.router, "link", "set", "rb", "down"]).expect("rb down");
    wait_log(&c, "cnfwd: port b (rb): down (admin down)");
    let p = wait_health(&c, "b", false);
    assert_eq!(p["state"], "admin down", "{p}");
    assert_eq!(pings(h1, HOST_ADDR[2], 10), 10, "h1 -> h3 while rb is down");
    ip(&["-n", &lab.router, "link", "set", "rb", "up"]).expect("rb up");
    wait_log(&c, "cnfwd: port b (rb): back up");
    wait_health(&c, "b", true);
    // h2 lost its carrier with rb, and with it its ARP entry for the
    // gateway: it resolves it again first.
    let up_at = Instant::now();
    let full_before = port_drop(&c.call("/stats", None), "b", "tx_full");
    while pings(h2, HOST_ADDR[2], 1) != 1 {
        assert!(
            up_at.elapsed() < Duration::from_secs(10),
            "h2 never reached h3 again after rb up: port b {}\n{}",
            c.call("/stats", None)["ports"]["b"],
            c.log_text()
        );
    }
    let resumed = up_at.elapsed();
    let full_after = port_drop(&c.call("/stats", None), "b", "tx_full");
    // The sockets' stale ENETDOWN (from the down) cost no frame.
    assert_eq!(
        full_after, full_before,
        "frames lost on rb after it came up"
    );
    assert_eq!(pings(h2, HOST_ADDR[2], 5), 5, "h2 -> h3 after rb up");

    // Each change reported once, although two workers saw it.
    let log = c.log_text();
    for (line, n) in [
        ("port b (rb): interface gone", 1),
        ("port b (rb): back: interface re-created", 1),
        ("port b (rb): down (admin down)", 1),
        ("port b (rb): back up", 1),
        ("cannot reopen", 0),
        ("panicked", 0),
    ] {
        assert_eq!(count(&log, line), n, "{line:?} in:\n{log}");
    }
    let stats = c.stop();
    let link = &stats["ports"]["b"]["link"];
    assert_eq!(link["state"], "up", "{link}");
    assert_eq!(link["went_gone"], 1, "{link}");
    assert_eq!(link["went_down"], 1, "{link}");
    assert_eq!(link["came_back"], 2, "{link}");
    assert_eq!(link["reopened"], 1, "{link}");
    assert!(
        stats["ports"]["a"].get("link").is_none(),
        "{}",
        stats["ports"]["a"]
    );
    assert_accounted(&stats);
    println!(
        "rb deletion reported after {} ms; h2 -> h3 again {} ms after rb up (port b tx_full {full_before} -> {full_after}); port b {}",
        detected.as_millis(),
        resumed.as_millis(),
        stats["ports"]["b"]
    );
}
