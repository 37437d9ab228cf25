//! cnfwd between real Linux hosts (issue 11's end-to-end tests).
//!
//! `cnfwd run` (AF_PACKET backend) runs in its own network namespace with
//! one veth end per host network; each host is a namespace of its own,
//! configured as a person would configure one: an IPv4 and an IPv6 address
//! and default routes via cnfwd's gateway addresses. No static ARP/ND
//! entries on either side, no static neighbours in cnfwd's configuration,
//! offloads as the kernel sets them: everything the hosts exchange goes
//! through cnfwd's slow path first (ARP, ND, resolution of next hops).
//!
//! ```text
//!   h1 192.0.2.10/26    2001:db8:a::10 --- a  \
//!   h2 192.0.2.74/26    2001:db8:b::10 --- b   } VRF red     cnfwd
//!   h3 192.0.2.138/26   2001:db8:c::10 --- c  /  (MTU 1400)
//!   h4 198.51.100.10/24 2001:db8:d::10 --- d     VRF blue
//! ```
//!
//! With veth's default TX checksum offload the hosts send TCP and UDP with
//! partial checksums; unless cnfwd's AF_PACKET backend completes them on
//! receive, the receiving host drops every such segment (TCP, tracepath's
//! last hop, any UDP): the failure messages show the hosts' InCsumErrors.
//!
//! Each test builds the whole site afresh (names unique to the test and
//! process, deleted afterwards, also on failure) and the tests of this file
//! run one at a time. See `common/hosts.rs` for the plumbing.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::hosts::{assert_accounted, can_run, port_drop, slow_counter, Cnfwd, Host, Lab, Ran};

/// One site at a time: each runs a busy-polling cnfwd.
static SERIAL: Mutex<()> = Mutex::new(());

/// cnfwd's port MACs (set on its veth ends; cnfwd takes the device's).
const PORT_MAC: [[u8; 6]; 4] = [
    [0x02, 0xcf, 0, 0, 0x0a, 0x01],
    [0x02, 0xcf, 0, 0, 0x0b, 0x01],
    [0x02, 0xcf, 0, 0, 0x0c, 0x01],
    [0x02, 0xcf, 0, 0, 0x0d, 0x01],
];

/// (host, MAC, cnfwd port, MTU, IPv4/len, IPv4 gateway, IPv6/len, IPv6 gateway)
type HostPlan = (
    &'static str,
    [u8; 6],
    &'static str,
    u32,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const HOSTS: [HostPlan; 4] = [
    (
        "h1",
        [0x02, 0xee, 0, 0, 0x0a, 0x10],
        "a",
        1500,
        "192.0.2.10/26",
        "192.0.2.1",
        "2001:db8:a::10/64",
        "2001:db8:a::1",
    ),
    (
        "h2",
        [0x02, 0xee, 0, 0, 0x0b, 0x10],
        "b",
        1500,
        "192.0.2.74/26",
        "192.0.2.65",
        "2001:db8:b::10/64",
        "2001:db8:b::1",
    ),
    (
        "h3",
        [0x02, 0xee, 0, 0, 0x0c, 0x10],
        "c",
        1400,
        "192.0.2.138/26",
        "192.0.2.129",
        "2001:db8:c::10/64",
        "2001:db8:c::1",
    ),
    (
        "h4",
        [0x02, 0xee, 0, 0, 0x0d, 0x10],
        "d",
        1500,
        "198.51.100.10/24",
        "198.51.100.1",
        "2001:db8:d::10/64",
        "2001:db8:d::1",
    ),
];

/// cnfwd's configuration for the site: gateway addresses are the defaults
/// (first host of each prefix), no neighbours.
const CONFIG: &str = r#"
[engine]
workers = 1

[[l3_isolation_domains]]
name = "red"

[[l3_isolation_domains]]
name = "blue"

[[l3_networks]]
name = "a"
vlan = 101
l3_isolation_domain = "red"
ip_allocation_type = "DualStack"
ipv4_connected_prefix = "192.0.2.0/26"
ipv6_connected_prefix = "2001:db8:a::/64"

[[l3_networks]]
name = "b"
vlan = 102
l3_isolation_domain = "red"
ip_allocation_type = "DualStack"
ipv4_connected_prefix = "192.0.2.64/26"
ipv6_connected_prefix = "2001:db8:b::/64"

[[l3_networks]]
name = "c"
vlan = 103
l3_isolation_domain = "red"
ip_allocation_type = "DualStack"
ipv4_connected_prefix = "192.0.2.128/26"
ipv6_connected_prefix = "2001:db8:c::/64"
mtu = 1400

[[l3_networks]]
name = "d"
vlan = 104
l3_isolation_domain = "blue"
ip_allocation_type = "DualStack"
ipv4_connected_prefix = "198.51.100.0/24"
ipv6_connected_prefix = "2001:db8:d::/64"

[[ports]]
name = "a"
backend = "af_packet"
interface = "ra"
mode = "access"
networks = ["a"]

[[ports]]
name = "b"
backend = "af_packet"
interface = "rb"
mode = "access"
networks = ["b"]

[[ports]]
name = "c"
backend = "af_packet"
interface = "rc"
mode = "access"
networks = ["c"]

[[ports]]
name = "d"
backend = "af_packet"
interface = "rd"
mode = "access"
networks = ["d"]
"#;

/// The four hosts, configured, with cnfwd running between them.
struct Site {
    cnfwd: Cnfwd,
    h: Vec<Host>,
    // Last: deleted after cnfwd is stopped.
    _lab: Lab,
}

fn site(name: &str) -> Site {
    site_with(name, "")
}

/// [`site`] with `settings` (TOML sections) before cnfwd's configuration.
fn site_with(name: &str, settings: &str) -> Site {
    let mut lab = Lab::new(name);
    let mut h = Vec::new();
    for (k, (host, mac, port, mtu, v4, gw4, v6, gw6)) in HOSTS.iter().enumerate() {
        let host = lab.host(host, *mac, &format!("r{port}"), PORT_MAC[k], *mtu);
        host.address(v4, gw4);
        host.address(v6, gw6);
        h.push(host);
    }
    let cnfwd = Cnfwd::start(&lab, &format!("{settings}\n{CONFIG}"));
    for host in &h {
        host.wait_dad();
    }
    Site {
        cnfwd,
        h,
        _lab: lab,
    }
}

/// The address part of a `HOSTS` address.
fn addr(cidr: &str) -> &str {
    cidr.split('/').next().unwrap()
}

/// The link-local address of a port with `mac` (RFC 4291 2.5.1).
fn link_local(mac: [u8; 6]) -> String {
    let w = |a: u8, b: u8| u16::from_be_bytes([a, b]);
    format!(
        "fe80::{:x}:{:x}:{:x}:{:x}",
        w(mac[0] ^ 2, mac[1]),
        w(mac[2], 0xff),
        w(0xfe, mac[3]),
        w(mac[4], mac[5])
    )
}

/// `ping -c 3` from `from` to `dst`.
fn ping(from: &Host, dst: &str) -> Ran {
    from.run(
        &["ping", "-n", "-c", "3", "-i", "0.2", "-W", "3", dst],
        Duration::from_secs(30),
    )
}

/// Every ping answered, none lost (the first one waits in cnfwd's hold
/// while the destination is resolved, and must still arrive).
fn assert_pings(from: &Host, dst: &str) {
    let r = ping(from, dst);
    assert!(
        r.ok() && r.stdout.contains("3 received") && r.stdout.contains(" 0% packet loss"),
        "ping from {} to {dst}:\n{r}",
        from.ns
    );
}

/// 1. Ping, IPv4 and IPv6, between hosts of two networks, each host to its
///    own gateway addresses and to the other network's, and to cnfwd's
///    link-local address; then cnfwd has learned every host (no static
///    neighbours anywhere) and accounted for every frame.
#[test]
fn hosts_ping_each_other_and_their_gateways() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run("hosts_ping_each_other_and_their_gateways", &["ping"]) {
        return;
    }
    let s = site("ping");
    let (h1, h2) = (&s.h[0], &s.h[1]);
    let ip = |k: usize, v6: bool| addr(if v6 { HOSTS[k].6 } else { HOSTS[k].4 });
    for v6 in [false, true] {
        assert_pings(h1, ip(1, v6));
        assert_pings(h2, ip(0, v6));
        let (gw1, gw2) = if v6 {
            (HOSTS[0].7, HOSTS[1].7)
        } else {
            (HOSTS[0].5, HOSTS[1].5)
        };
        assert_pings(h1, gw1);
        assert_pings(h2, gw2);
        assert_pings(h1, gw2);
    }
    assert_pings(h1, &format!("{}%eth0", link_local(PORT_MAC[0])));

    let neighbors = s.cnfwd.call("/neighbors", None);
    for (k, net) in [(0, "a"), (1, "b")] {
        for v6 in [false, true] {
            let mac = common::hosts::mac_text(HOSTS[k].1);
            let found = neighbors.as_array().unwrap().iter().any(|n| {
                n["network"] == net
                    && n["ip"] == ip(k, v6)
                    && n["mac"] == mac.as_str()
                    && (n["state"] == "reachable" || n["state"] == "stale")
            });
            assert!(found, "{} not learned on {net}: {neighbors:#}", ip(k, v6));
        }
    }
    let stats = s.cnfwd.stop();
    assert_accounted(&stats);
    // h1 asks for its gateway; h2 learns its gateway from cnfwd's own
    // request for h2 (Linux creates the entry from the request).
    assert!(slow_counter(&stats, "arp_replies_sent") >= 1, "{stats:#}");
    assert!(slow_counter(&stats, "na_sent") >= 1, "{stats:#}");
    assert!(slow_counter(&stats, "arp_requests_sent") >= 1, "{stats:#}");
    assert!(slow_counter(&stats, "ns_sent") >= 1, "{stats:#}");
    assert!(slow_counter(&stats, "echo_replies_sent") >= 21, "{stats:#}");
    assert!(slow_counter(&stats, "announcements_sent") >= 8, "{stats:#}");
}

/// The TCP endpoints: `recv ADDR PORT` listens, prints `ready`, takes one
/// connection and prints the byte count and SHA-256 of what it read;
/// `send ADDR PORT SIZE SEED` sends SIZE pseudo-random bytes and prints the
/// same of what it sent.
const TCP_PY: &str = r#"
import hashlib, random, socket, sys
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
if mode == "recv":
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(40)
    print("ready", flush=True)
    c, _ = s.accept()
    c.settimeout(60)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.close()
    print(n, h.hexdigest(), flush=True)
else:
    size, seed = int(sys.argv[4]), int(sys.argv[5])
    data = random.Random(seed).randbytes(size)
    c = socket.create_connection((addr, port), timeout=20)
    c.settimeout(60)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
    print(len(data), hashlib.sha256(data).hexdigest(), flush=True)
"#;

/// Sends `size` bytes over TCP from `from` to `to` at `dst`; returns what
/// each side printed (count and digest), or the failure.
fn tcp_transfer(from: &Host, to: &Host, dst: &str, size: usize) -> Result<(), String> {
    let mut server = to.spawn(&["python3", "-u", "-c", TCP_PY, "recv", dst, "5001"]);
    let ready = server.line();
    if ready.trim() != "ready" {
        return Err(format!("receiver on {} did not start: {ready:?}", to.ns));
    }
    let seed = size.to_string();
    let sent = from.run(
        &[
            "python3",
            "-c",
            TCP_PY,
            "send",
            dst,
            "5001",
            &size.to_string(),
            &seed,
        ],
        Duration::from_secs(90),
    );
    let got = server.finish(Duration::from_secs(10));
    let sent_line = sent.stdout.trim().to_owned();
    let got_line = got.stdout.trim().to_owned();
    if !sent.ok() || !got.ok() || sent_line != got_line || sent_line.is_empty() {
        return Err(format!(
            "{} -> {dst}: sender {sent_line:?}, receiver {got_line:?}\nsender {sent}\nreceiver {got}",
            from.ns
        ));
    }
    if !sent_line.starts_with(&format!("{size} ")) {
        return Err(format!("sent {sent_line:?}, not {size} bytes"));
    }
    Ok(())
}

/// 2. TCP transfers of 12 MiB in both directions, over IPv4 and IPv6,
///    arrive complete (byte count and SHA-256 equal on both sides).
#[test]
fn tcp_transfers_cross_both_ways() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run("tcp_transfers_cross_both_ways", &["python3"]) {
        return;
    }
    let s = site("tcp");
    let (h1, h2) = (&s.h[0], &s.h[1]);
    const SIZE: usize = 12 << 20;
    let mut failures = Vec::new();
    for v6 in [false, true] {
        let (a1, a2) = if v6 {
            (addr(HOSTS[0].6), addr(HOSTS[1].6))
        } else {
            (addr(HOSTS[0].4), addr(HOSTS[1].4))
        };
        for (from, to, dst) in [(h1, h2, a2), (h2, h1, a1)] {
            if let Err(e) = tcp_transfer(from, to, dst, SIZE) {
                failures.push(e);
            }
        }
    }
    let csum = format!("{}; {}", h1.checksum_errors(), h2.checksum_errors());
    let stats = s.cnfwd.stop();
    assert!(
        failures.is_empty(),
        "{} of 4 transfers failed:\n{}\nchecksum errors counted by the hosts: {csum}\ncnfwd's counters: {stats:#}",
        failures.len(),
        failures.join("\n")
    );
    assert_accounted(&stats);
}

/// 3. `tracepath -n` from h1 to h3, behind the 1400-byte network: the first
///    hop is cnfwd (time exceeded from h1's gateway address), the path MTU
///    found is 1400 (fragmentation needed / Packet Too Big from cnfwd), and
///    the destination is reached; over IPv4 and IPv6.
#[test]
fn tracepath_shows_cnfwd_and_finds_the_path_mtu() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run(
        "tracepath_shows_cnfwd_and_finds_the_path_mtu",
        &["tracepath", "ping"],
    ) {
        return;
    }
    let s = site("tp");
    let h1 = &s.h[0];
    let mut failures = Vec::new();
    for (fam, dst, hop) in [
        ("-4", addr(HOSTS[2].4), HOSTS[0].5),
        ("-6", addr(HOSTS[2].6), HOSTS[0].7),
    ] {
        let r = h1.run(
            &["tracepath", fam, "-n", "-m", "5", dst],
            Duration::from_secs(60),
        );
        let hop1 = r.stdout.lines().any(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some("1:") && w.next() == Some(hop)
        });
        let checks = [
            (hop1, format!("hop 1 is cnfwd ({hop})")),
            (
                r.stdout.contains("pmtu 1400"),
                "pmtu 1400 discovered".to_owned(),
            ),
            (
                r.stdout
                    .lines()
                    .any(|l| l.contains(dst) && l.contains("reached")),
                format!("{dst} reached"),
            ),
            (
                r.stdout.contains("Resume: pmtu 1400 hops 2"),
                "resume: pmtu 1400, 2 hops".to_owned(),
            ),
        ];
        for (ok, what) in checks {
            if !ok {
                failures.push(format!("tracepath {fam}: not {what}"));
            }
        }
        if failures
            .iter()
            .any(|f| f.starts_with(&format!("tracepath {fam}")))
        {
            failures.push(format!("tracepath {fam} -n {dst}:\n{r}"));
        }
    }
    let csum = s.h[2].checksum_errors();
    let stats = s.cnfwd.stop();
    assert!(
        failures.is_empty(),
        "{}\nchecksum errors counted by the destination: {csum}\ncnfwd's counters: {stats:#}",
        failures.join("\n")
    );
    assert!(port_drop(&stats, "a", "ttl_expired") >= 2, "{stats:#}");
    assert!(port_drop(&stats, "a", "mtu_exceeded") >= 2, "{stats:#}");
    assert_accounted(&stats);
}

/// A frame counter on a host's `eth0`: prints `ready`, then after `SECS`
/// seconds the number of frames received from IPv4 source `V4` or IPv6
/// source `V6`.
const SNIFF_PY: &str = r#"
import socket, sys, time
secs, v4, v6 = float(sys.argv[1]), socket.inet_aton(sys.argv[2]), socket.inet_pton(socket.AF_INET6, sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("eth0", 0))
s.settimeout(0.1)
print("ready", flush=True)
end, n = time.time() + secs, 0
while time.time() < end:
    try:
        f, a = s.recvfrom(65536)
    except socket.timeout:
        continue
    if a[2] == socket.PACKET_OUTGOING:
        continue
    if (f[12:14] == b"\x08\x00" and f[26:30] == v4) or (f[12:14] == b"\x86\xdd" and f[22:38] == v6):
        n += 1
print(n, flush=True)
"#;

/// 4. h4, in VRF blue, pings h1 in VRF red: cnfwd has no route to it in
///    blue, so ping reports "Destination Net Unreachable" from h4's gateway
///    (IPv6: "Destination unreachable: No route"), and nothing from h4
///    reaches h1.
#[test]
fn another_vrf_gets_net_unreachable_and_nothing_crosses() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run(
        "another_vrf_gets_net_unreachable_and_nothing_crosses",
        &["ping", "python3"],
    ) {
        return;
    }
    let s = site("vrf");
    let (h1, h4) = (&s.h[0], &s.h[3]);
    let mut sniff = h1.spawn(&[
        "python3",
        "-u",
        "-c",
        SNIFF_PY,
        "8",
        addr(HOSTS[3].4),
        addr(HOSTS[3].6),
    ]);
    assert_eq!(sniff.line().trim(), "ready");
    let v4 = ping(h4, addr(HOSTS[0].4));
    let v6 = ping(h4, addr(HOSTS[0].6));
    let seen = sniff.finish(Duration::from_secs(20));
    assert!(!v4.ok(), "ping crossed VRFs:\n{v4}");
    assert!(
        v4.stdout.contains(&format!(
            "From {} icmp_seq=1 Destination Net Unreachable",
            HOSTS[3].5
        )),
        "no net unreachable from h4's gateway:\n{v4}"
    );
    assert!(!v6.ok(), "ping crossed VRFs:\n{v6}");
    assert!(
        v6.stdout.contains(&format!(
            "From {} icmp_seq=1 Destination unreachable: No route",
            HOSTS[3].7
        )),
        "no 'no route' from h4's gateway:\n{v6}"
    );
    assert_eq!(seen.stdout.trim(), "0", "frames from h4 reached h1");
    let stats = s.cnfwd.stop();
    assert_eq!(port_drop(&stats, "d", "no_route"), 6, "{stats:#}");
    assert_eq!(
        stats["ports"]["a"]["tx_packets"].as_u64(),
        Some(
            // Only cnfwd's own announcements (a gratuitous ARP, an NA).
            2
        ),
        "{stats:#}"
    );
    assert_accounted(&stats);
}

/// The entries cnfwd has learned for `ip` (any network), with their states.
fn learned(cnfwd: &Cnfwd, ip: &str) -> Vec<String> {
    cnfwd
        .call("/neighbors", None)
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["ip"] == ip)
        .map(|n| n["state"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// 5. Neighbour aging against real hosts (reachable time 1 s): while h2
///    pings flow and h2 answers cnfwd's unicast probes (ARP, and NS, which
///    Linux answers with an NA without link-layer address), its entries
///    stay: nothing is resolved again, nothing ages out. Once h2 stops
///    answering (its addresses removed) the entries are removed after the
///    probes, and the next ping gets host / address unreachable from h1's
///    gateway.
#[test]
fn neighbours_are_probed_kept_while_answered_then_removed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run(
        "neighbours_are_probed_kept_while_answered_then_removed",
        &["ping"],
    ) {
        return;
    }
    let s = site_with("age", "[slow_path]\nneighbor_reachable_s = 1\n");
    let (h1, h2) = (&s.h[0], &s.h[1]);
    let (v4, v6) = (addr(HOSTS[1].4), addr(HOSTS[1].6));
    for dst in [v4, v6] {
        // 6 s: each entry is probed every second or so meanwhile; an
        // unanswered one would be removed 4 s after it was learned.
        let r = h1.run(
            &["ping", "-n", "-c", "60", "-i", "0.1", "-W", "3", dst],
            Duration::from_secs(30),
        );
        assert!(
            r.ok() && !r.stdout.contains("nreachable"),
            "ping across while h2's entries age:\n{r}"
        );
    }
    let stats = s.cnfwd.call("/stats", None);
    assert!(slow_counter(&stats, "probes_sent") >= 8, "{stats:#}");
    assert_eq!(slow_counter(&stats, "neighbors_aged_out"), 0, "{stats:#}");
    // h2 resolved once per family (the first ping of each), never again.
    assert_eq!(slow_counter(&stats, "arp_requests_sent"), 1, "{stats:#}");
    assert_eq!(slow_counter(&stats, "ns_sent"), 1, "{stats:#}");
    assert_eq!(slow_counter(&stats, "packets_held"), 2, "{stats:#}");
    for ip in [v4, v6] {
        let st = learned(&s.cnfwd, ip);
        assert!(
            st.len() == 1 && ["reachable", "stale", "probing"].contains(&st[0].as_str()),
            "{ip}: {st:?}"
        );
    }

    // h2 goes quiet: no address, so nothing answers cnfwd's probes.
    let flush = h2.run(
        &["ip", "addr", "flush", "dev", "eth0", "scope", "global"],
        Duration::from_secs(5),
    );
    assert!(flush.ok(), "{flush}");
    // Probed 1 s after the last answer, 3 probes 1 s apart, then removed.
    let end = std::time::Instant::now() + Duration::from_secs(15);
    while !(learned(&s.cnfwd, v4).is_empty() && learned(&s.cnfwd, v6).is_empty()) {
        assert!(
            std::time::Instant::now() < end,
            "entries of a silent host kept: {:?} {:?}",
            learned(&s.cnfwd, v4),
            learned(&s.cnfwd, v6)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let r4 = h1.run(
        &["ping", "-n", "-c", "1", "-W", "5", v4],
        Duration::from_secs(20),
    );
    assert!(
        r4.stdout.contains(&format!(
            "From {} icmp_seq=1 Destination Host Unreachable",
            HOSTS[0].5
        )),
        "no host unreachable from h1's gateway:\n{r4}"
    );
    let r6 = h1.run(
        &["ping", "-n", "-c", "1", "-W", "5", v6],
        Duration::from_secs(20),
    );
    assert!(
        r6.stdout.contains(&format!(
            "From {} icmp_seq=1 Destination unreachable: Address unreachable",
            HOSTS[0].7
        )),
        "no address unreachable from h1's gateway:\n{r6}"
    );
    let stats = s.cnfwd.stop();
    assert!(slow_counter(&stats, "neighbors_aged_out") >= 2, "{stats:#}");
    assert_eq!(
        port_drop(&stats, "a", "neighbor_unresolved"),
        2,
        "{stats:#}"
    );
    assert_accounted(&stats);
}
