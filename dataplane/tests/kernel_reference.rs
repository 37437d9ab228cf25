//! The Linux kernel as a reference router (issue 18): the same frames,
//! routed once by the kernel and once by cnfwd over the same networks and
//! routes, must leave as the same forwarded set.
//!
//! ```text
//!   far ends (one namespace each)     router (kernel: one namespace per VRF;
//!   eth0 = capture + injection         cnfwd: one namespace, AF_PACKET ports)
//!
//!   app    02:ee:..:01:01 ---- app    10.1.0.1/24  2001:db8:1::1/64  \
//!   core   02:ee:..:09:01 ---- core   10.9.0.1/24  2001:db8:9::1/64   } VRF 1
//!   side   02:ee:..:03:01 ---- side   10.3.0.1/24  2001:db8:3::1/64  /
//!   app2   02:ee:..:02:01 ---- app2   10.2.0.1/24  2001:db8:2::1/64  \ VRF 2
//!   core2  02:ee:..:08:01 ---- core2  10.8.0.1/24  2001:db8:8::1/64  /
//!
//!   VRF 1: default via 10.9.0.254 / 2001:db8:9::fe (core),
//!          172.16.0.0/12 via 10.1.0.254, 2001:db8:172::/48 via 2001:db8:1::fe (app)
//!   VRF 2: 198.51.100.0/24 via 10.8.0.254, 2001:db8:198::/48 via
//!          2001:db8:8::fe (core2); no default route
//! ```
//!
//! Access ports only (untagged veths: the kernels here have no 802.1Q or
//! VRF devices, so the kernel's VRFs are namespaces). Every next hop and
//! host the cases reach is a static neighbour on both sides (`nud
//! permanent` in the kernel, `neighbors` in cnfwd's configuration), so
//! nothing is resolved and nothing is held.
//!
//! Each run, for reverse-path filtering strict (`rp_filter = 1`,
//! `source_check = "strict"`) and loose (`rp_filter = 2`, `"loose"`), makes
//! its namespaces afresh, sends every case's frame from the far end of its
//! ingress network (raw AF_PACKET sockets), and captures what leaves the
//! router on every far end. A captured frame belongs to a case by its
//! ports / echo identifier (unique per case): either the case's datagram
//! forwarded (compared byte for byte: the sent datagram with TTL / hop limit
//! one less and the IPv4 checksum recomputed, trailing link padding cut
//! off, out of the expected port, from the router's MAC to the neighbour's)
//! or an ICMP message about it (compared by port, type and code).
//!
//! The kernel's knobs (set explicitly in each VRF namespace, `all` and every
//! interface, so no default of the machine matters):
//! - `rp_filter` 1 / 2: the mode under test.
//! - `accept_local = 0`: a packet with one of the router's own addresses
//!   as source is a martian, as cnfwd's `martian_source` says (with 1 the
//!   kernel would accept it).
//! - `route_localnet = 0`: 127/8 as source or destination is a martian on
//!   an interface that is not loopback (RFC 1812 5.3.7), as in cnfwd.
//! - `log_martians = 0`: logging changes nothing in what is forwarded, and
//!   a test should not fill the shared machine's kernel log; the kernel's
//!   own counters (`IPReversePathFilter`, `InAddrErrors`) are printed.
//! - `send_redirects = 0`: cnfwd never sends ICMP redirects (IPv6 has no
//!   such switch: the kernel's IPv6 redirects show as listed differences).
//! - `bc_forwarding = 0` (the default): directed broadcasts are not
//!   forwarded (RFC 2644 / BCP 34, updating RFC 1812 5.3.5.2).
//! - `icmp_ratelimit = 0`, `icmp/ratelimit = 0` (IPv6), `icmp_msgs_per_sec`
//!   and `icmp_msgs_burst` high: every ICMP message the kernel means to
//!   send is sent, so answers compare without timing; cnfwd gets bursts
//!   large enough for the same reason.
//! - IPv6: `forwarding = 1`, `accept_dad = 0` on the router's interfaces
//!   (nothing else is on the links), addresses added `nodad`.
//!
//! Where the kernel and cnfwd legitimately differ, [`KNOWN`] lists the
//! difference with its reason; the test fails on any difference not listed
//! and on any listed difference that did not happen. Differences that are
//! cnfwd bugs are listed in [`BUGS`] (reported as such) until they are
//! fixed; none is open.
//!
//! Needs root and `ip netns` (without them the tests print a line and
//! pass, like the other namespace tests). Everything made has a name unique
//! to the run and process and is deleted on drop, also on failure; no
//! frame can leave the namespaces (the far ends have no addresses, and the
//! routers' only links are the test's veths).

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::frames::{self, L4};
use common::hosts::{assert_accounted, can_run, ip, mac_text, sysctl, Cnfwd, Host, Lab};
use common::rawsock::{drain_all, RawSocket};

/// One run at a time: each makes namespaces and a busy-polling cnfwd.
static SERIAL: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------- topology

/// One L3 network: (name = router interface = far-end host name, VRF,
/// IPv4 gateway/len, IPv6 gateway/len, router MAC, far-end MAC).
struct Net {
    name: &'static str,
    vrf: usize,
    v4: &'static str,
    v6: &'static str,
    router_mac: [u8; 6],
    far_mac: [u8; 6],
}

const NETS: [Net; 5] = [
    Net {
        name: "app",
        vrf: 1,
        v4: "10.1.0.1/24",
        v6: "2001:db8:1::1/64",
        router_mac: [0x02, 0xcf, 0, 0, 0x01, 0x01],
        far_mac: [0x02, 0xee, 0, 0, 0x01, 0x01],
    },
    Net {
        name: "core",
        vrf: 1,
        v4: "10.9.0.1/24",
        v6: "2001:db8:9::1/64",
        router_mac: [0x02, 0xcf, 0, 0, 0x09, 0x01],
        far_mac: [0x02, 0xee, 0, 0, 0x09, 0x01],
    },
    Net {
        name: "side",
        vrf: 1,
        v4: "10.3.0.1/24",
        v6: "2001:db8:3::1/64",
        router_mac: [0x02, 0xcf, 0, 0, 0x03, 0x01],
        far_mac: [0x02, 0xee, 0, 0, 0x03, 0x01],
    },
    Net {
        name: "app2",
        vrf: 2,
        v4: "10.2.0.1/24",
        v6: "2001:db8:2::1/64",
        router_mac: [0x02, 0xcf, 0, 0, 0x02, 0x01],
        far_mac: [0x02, 0xee, 0, 0, 0x02, 0x01],
    },
    Net {
        name: "core2",
        vrf: 2,
        v4: "10.8.0.1/24",
        v6: "2001:db8:8::1/64",
        router_mac: [0x02, 0xcf, 0, 0, 0x08, 0x01],
        far_mac: [0x02, 0xee, 0, 0, 0x08, 0x01],
    },
];

/// Static routes: (VRF, prefix, next hop).
const ROUTES: [(usize, &str, &str); 6] = [
    (1, "0.0.0.0/0", "10.9.0.254"),
    (1, "::/0", "2001:db8:9::fe"),
    (1, "172.16.0.0/12", "10.1.0.254"),
    (1, "2001:db8:172::/48", "2001:db8:1::fe"),
    (2, "198.51.100.0/24", "10.8.0.254"),
    (2, "2001:db8:198::/48", "2001:db8:8::fe"),
];

/// Static neighbours: (network, address, MAC). Both routers get all of them.
const NEIGHBORS: [(&str, &str, [u8; 6]); 19] = [
    ("app", "10.1.0.10", [0x02, 0xaa, 0, 0, 0x01, 0x10]),
    ("app", "10.1.0.254", [0x02, 0xaa, 0, 0, 0x01, 0xfe]),
    ("app", "2001:db8:1::10", [0x02, 0xaa, 0, 0, 0x01, 0x10]),
    ("app", "2001:db8:1::fe", [0x02, 0xaa, 0, 0, 0x01, 0xfe]),
    ("core", "10.9.0.20", [0x02, 0xcc, 0, 0, 0x09, 0x20]),
    ("core", "10.9.0.254", [0x02, 0xcc, 0, 0, 0x09, 0xfe]),
    ("core", "2001:db8:9::20", [0x02, 0xcc, 0, 0, 0x09, 0x20]),
    ("core", "2001:db8:9::fe", [0x02, 0xcc, 0, 0, 0x09, 0xfe]),
    ("side", "10.3.0.20", [0x02, 0xdd, 0, 0, 0x03, 0x20]),
    ("side", "2001:db8:3::20", [0x02, 0xdd, 0, 0, 0x03, 0x20]),
    ("app2", "10.2.0.10", [0x02, 0xaa, 0, 0, 0x02, 0x10]),
    ("app2", "2001:db8:2::10", [0x02, 0xaa, 0, 0, 0x02, 0x10]),
    ("core2", "10.8.0.20", [0x02, 0xcc, 0, 0, 0x08, 0x20]),
    ("core2", "10.8.0.254", [0x02, 0xcc, 0, 0, 0x08, 0xfe]),
    ("core2", "2001:db8:8::20", [0x02, 0xcc, 0, 0, 0x08, 0x20]),
    ("core2", "2001:db8:8::fe", [0x02, 0xcc, 0, 0, 0x08, 0xfe]),
    // Link-local neighbours exist in the kernel only (cnfwd's static
    // neighbours must be inside the network's prefix): they let the
    // kernel's answers to link-local sources leave instead of waiting on
    // neighbour discovery, so that they show.
    ("app", "fe80::10", [0x02, 0xaa, 0, 0, 0x01, 0x10]),
    ("core", "fe80::10", [0x02, 0xcc, 0, 0, 0x09, 0x10]),
    ("app", "fe80::20", [0x02, 0xaa, 0, 0, 0x01, 0x20]),
];

/// Neighbours cnfwd cannot be given (see [`NEIGHBORS`]).
fn kernel_only(addr: &str) -> bool {
    addr.starts_with("fe80:")
}

fn net(name: &str) -> &'static Net {
    NETS.iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("no network {name}"))
}

/// Reverse-path filtering mode of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `rp_filter = 1`, `source_check = "strict"`.
    Strict,
    /// `rp_filter = 2`, `source_check = "loose"`.
    Loose,
}

impl Mode {
    fn rp_filter(self) -> &'static str {
        match self {
            Mode::Strict => "1",
            Mode::Loose => "2",
        }
    }

    fn source_check(self) -> &'static str {
        match self {
            Mode::Strict => "strict",
            Mode::Loose => "loose",
        }
    }
}

// ------------------------------------------------------------------- cases

/// What kind of transport a case sends.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Udp,
    Tcp,
    Echo,
}

/// One crafted frame.
#[derive(Debug, Clone)]
struct Case {
    /// Unique, stable: what [`KNOWN`] and [`BUGS`] refer to.
    name: String,
    ingress: &'static str,
    src: IpAddr,
    dst: IpAddr,
    kind: Kind,
    ttl: u8,
    /// Trailing link padding after the datagram.
    pad: usize,
    /// Sent to ff:ff:ff:ff:ff:ff instead of the router's MAC.
    broadcast_mac: bool,
}

/// First UDP / TCP source port and echo identifier: case `i` uses `BASE + i`.
const BASE: u16 = 40000;

impl Case {
    fn id(&self, i: usize) -> u16 {
        BASE + i as u16
    }

    fn l4(&self, i: usize) -> L4 {
        let id = self.id(i);
        match self.kind {
            Kind::Udp => L4::Udp {
                sport: id,
                dport: id,
                len: 18,
            },
            Kind::Tcp => L4::TcpSyn {
                sport: id,
                dport: id,
            },
            Kind::Echo => L4::Echo { id, seq: 1 },
        }
    }

    /// The datagram (no link header, no padding).
    fn datagram(&self, i: usize) -> Vec<u8> {
        let (proto, seg) = frames::segment(self.src, self.dst, self.l4(i));
        frames::datagram(self.src, self.dst, self.ttl, self.id(i), proto, &seg)
    }

    fn frame(&self, i: usize) -> Vec<u8> {
        let n = net(self.ingress);
        let dst = if self.broadcast_mac {
            [0xff; 6]
        } else {
            n.router_mac
        };
        let ethertype = if self.src.is_ipv4() {
            frames::ETH_IPV4
        } else {
            frames::ETH_IPV6
        };
        frames::ethernet(dst, n.far_mac, ethertype, &self.datagram(i), self.pad)
    }
}

/// Builds the case list.
struct Cases(Vec<Case>);

impl Cases {
    fn add(&mut self, ingress: &'static str, src: &str, dst: &str, what: &str) -> &mut Case {
        let (s, d): (IpAddr, IpAddr) = (src.parse().expect(src), dst.parse().expect(dst));
        let fam = if s.is_ipv4() { "v4" } else { "v6" };
        let name = format!("{fam} {what}: {ingress} {src} -> {dst}");
        assert!(
            self.0.iter().all(|c| c.name != name),
            "duplicate case {name}"
        );
        self.0.push(Case {
            name,
            ingress,
            src: s,
            dst: d,
            kind: Kind::Udp,
            ttl: 64,
            pad: 0,
            broadcast_mac: false,
        });
        self.0.last_mut().expect("just pushed")
    }
}

/// Every case: martian and scoped addresses at the edges of their ranges
/// with their legitimate neighbours, broadcasts, cnfwd's / the kernel's own
/// addresses, uRPF cases where strict and loose differ, and plain traffic.
fn cases() -> Vec<Case> {
    let mut c = Cases(Vec::new());

    // IPv4 sources, arriving on core (the default route's network, so that
    // the legitimate ones pass strict uRPF), to a host on app.
    for (src, what) in [
        ("0.0.0.0", "source 0/8"),
        ("0.255.255.255", "source 0/8"),
        ("1.0.0.0", "source after 0/8"),
        ("126.255.255.255", "source before 127/8"),
        ("127.0.0.0", "source 127/8"),
        ("127.0.0.1", "source 127/8"),
        ("127.255.255.255", "source 127/8"),
        ("128.0.0.0", "source after 127/8"),
        ("223.255.255.255", "source before 224/4"),
        ("224.0.0.0", "source 224/4"),
        ("224.0.0.1", "source 224/4"),
        ("239.255.255.255", "source 224/4"),
        ("240.0.0.0", "source 240/4"),
        ("255.255.255.254", "source 240/4"),
        ("255.255.255.255", "source limited broadcast"),
        ("10.9.0.255", "source ingress directed broadcast"),
        ("10.9.0.0", "source ingress network address"),
        ("10.9.0.1", "source router's address on ingress"),
        ("10.1.0.1", "source router's address on egress"),
        ("10.3.0.1", "source router's address on a third network"),
        ("10.1.0.255", "source egress directed broadcast"),
        ("10.3.0.255", "source third network's directed broadcast"),
    ] {
        c.add("core", src, "10.1.0.10", what);
    }
    c.add("core", "127.0.0.1", "10.1.0.10", "source 127/8 TTL 1")
        .ttl = 1;
    c.add("core", "0.0.0.0", "10.1.0.10", "source 0/8 TTL 1")
        .ttl = 1;

    // IPv4 destinations, from a host on app.
    for (dst, what) in [
        ("0.0.0.0", "destination 0/8"),
        ("0.0.0.1", "destination 0/8"),
        ("0.255.255.255", "destination 0/8"),
        ("1.0.0.0", "destination after 0/8"),
        ("126.255.255.255", "destination before 127/8"),
        ("127.0.0.1", "destination 127/8"),
        ("127.255.255.255", "destination 127/8"),
        ("128.0.0.0", "destination after 127/8"),
        ("223.255.255.255", "destination before 224/4"),
        ("224.0.0.1", "destination 224/4 in a unicast frame"),
        ("239.255.255.255", "destination 224/4 in a unicast frame"),
        ("240.0.0.1", "destination 240/4"),
        ("255.255.255.254", "destination 240/4"),
        (
            "255.255.255.255",
            "destination limited broadcast in a unicast frame",
        ),
        ("10.9.0.255", "destination egress directed broadcast"),
        ("10.9.0.0", "destination egress network address"),
        ("10.1.0.255", "destination ingress directed broadcast"),
        (
            "10.9.0.1",
            "destination router's address on another network",
        ),
        ("10.1.0.1", "destination router's address on ingress"),
        ("10.9.0.20", "plain"),
    ] {
        c.add("app", "10.1.0.10", dst, what);
    }
    c.add("app", "10.1.0.10", "10.9.0.20", "TCP").kind = Kind::Tcp;
    c.add("app", "10.1.0.10", "10.9.0.20", "echo").kind = Kind::Echo;
    c.add("app", "10.1.0.10", "10.1.0.1", "echo").kind = Kind::Echo;
    c.add("app", "10.1.0.10", "10.9.0.1", "echo").kind = Kind::Echo;
    c.add("app", "10.1.0.10", "10.9.0.20", "TTL 1").ttl = 1;
    c.add("app", "10.1.0.10", "10.9.0.20", "padded").pad = 22;
    let b = c.add(
        "app",
        "10.1.0.10",
        "255.255.255.255",
        "limited broadcast in a broadcast frame",
    );
    b.broadcast_mac = true;
    let b = c.add(
        "app",
        "10.1.0.10",
        "10.3.0.255",
        "directed broadcast in a broadcast frame",
    );
    b.broadcast_mac = true;
    let b = c.add(
        "app",
        "0.0.0.0",
        "255.255.255.255",
        "DHCP-like in a broadcast frame",
    );
    b.broadcast_mac = true;
    c.add(
        "app2",
        "10.2.0.10",
        "10.9.0.20",
        "other VRF's host (no route)",
    );

    // IPv4 reverse path.
    for (ingress, src, dst, what) in [
        (
            "app",
            "172.16.5.5",
            "10.9.0.20",
            "uRPF route back via ingress",
        ),
        (
            "app",
            "172.31.255.255",
            "10.9.0.20",
            "uRPF route back via ingress",
        ),
        (
            "app",
            "10.3.0.20",
            "10.9.0.20",
            "uRPF source in a third network",
        ),
        (
            "app",
            "203.0.113.7",
            "10.9.0.20",
            "uRPF default route back via core",
        ),
        (
            "app",
            "10.9.0.20",
            "10.9.0.20",
            "uRPF source in the egress network",
        ),
        ("core", "172.16.5.5", "10.1.0.10", "uRPF route back via app"),
        (
            "core",
            "10.3.0.20",
            "10.1.0.10",
            "uRPF source in a third network",
        ),
        (
            "core",
            "10.9.0.20",
            "10.1.0.10",
            "uRPF source in ingress network",
        ),
        (
            "side",
            "10.3.0.20",
            "10.1.0.10",
            "uRPF source in ingress network",
        ),
        (
            "side",
            "10.1.0.99",
            "10.1.0.10",
            "uRPF source in egress network",
        ),
        (
            "side",
            "203.0.113.7",
            "10.1.0.10",
            "uRPF default route back via core",
        ),
        (
            "app2",
            "10.2.0.10",
            "198.51.100.20",
            "uRPF source in ingress network",
        ),
        (
            "app2",
            "198.51.100.7",
            "198.51.100.20",
            "uRPF route back via core2",
        ),
        ("app2", "203.0.113.7", "198.51.100.20", "uRPF no route back"),
        (
            "app2",
            "10.8.0.20",
            "198.51.100.20",
            "uRPF source in egress network",
        ),
        (
            "core2",
            "198.51.100.7",
            "10.2.0.10",
            "uRPF route back via ingress",
        ),
        (
            "core2",
            "10.8.0.20",
            "10.2.0.10",
            "uRPF source in ingress network",
        ),
        ("core2", "203.0.113.7", "10.2.0.10", "uRPF no route back"),
        (
            "core2",
            "10.2.0.99",
            "10.2.0.10",
            "uRPF source in egress network",
        ),
    ] {
        c.add(ingress, src, dst, what);
    }

    // IPv6 sources, arriving on core (the default route's network).
    for (src, what) in [
        ("::", "source unspecified"),
        ("::1", "source loopback"),
        ("::2", "source after loopback"),
        ("::fffe:ffff:ffff", "source before IPv4-mapped"),
        ("::ffff:0.0.0.0", "source IPv4-mapped"),
        ("::ffff:10.9.0.20", "source IPv4-mapped"),
        ("::ffff:255.255.255.255", "source IPv4-mapped"),
        ("::1:0:0:0", "source after IPv4-mapped"),
        ("ff00::", "source multicast"),
        ("ff02::1", "source multicast"),
        ("ff0e::1", "source multicast"),
        (
            "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "source before multicast",
        ),
        ("fe80::10", "source link-local onto another link"),
        (
            "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "source link-local onto another link",
        ),
        (
            "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "source before link-local",
        ),
        ("fec0::1", "source after link-local"),
        ("2001:db8:9::1", "source router's address on ingress"),
        ("2001:db8:1::1", "source router's address on egress"),
    ] {
        c.add("core", src, "2001:db8:1::10", what);
    }
    c.add(
        "core",
        "::1",
        "2001:db8:1::10",
        "source loopback hop limit 1",
    )
    .ttl = 1;

    // IPv6 destinations, from a host on app.
    for (dst, what) in [
        ("::", "destination unspecified"),
        ("::1", "destination loopback"),
        ("::2", "destination after loopback"),
        ("::fffe:ffff:ffff", "destination before IPv4-mapped"),
        ("::ffff:10.9.0.20", "destination IPv4-mapped"),
        ("::1:0:0:0", "destination after IPv4-mapped"),
        ("ff0e::1", "destination multicast in a unicast frame"),
        ("ff02::1", "destination multicast in a unicast frame"),
        ("fe80::20", "destination link-local"),
        (
            "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "destination before link-local",
        ),
        ("fec0::1", "destination after link-local"),
        ("2001:db8:9::20", "plain"),
        (
            "2001:db8:9::1",
            "destination router's address on another network",
        ),
        ("2001:db8:1::1", "destination router's address on ingress"),
    ] {
        c.add("app", "2001:db8:1::10", dst, what);
    }
    c.add("app", "2001:db8:1::10", "2001:db8:9::20", "TCP").kind = Kind::Tcp;
    c.add("app", "2001:db8:1::10", "2001:db8:9::20", "echo")
        .kind = Kind::Echo;
    c.add("app", "2001:db8:1::10", "2001:db8:1::1", "echo").kind = Kind::Echo;
    c.add("app", "2001:db8:1::10", "2001:db8:9::1", "echo").kind = Kind::Echo;
    c.add("app", "2001:db8:1::10", "2001:db8:9::20", "hop limit 1")
        .ttl = 1;
    c.add("app", "2001:db8:1::10", "2001:db8:9::20", "padded")
        .pad = 22;
    c.add("app", "fe80::10", "fe80::20", "link-local on its own link");
    c.add(
        "app",
        "fe80::10",
        "2001:db8:1::10",
        "link-local source to ingress network",
    );
    c.add(
        "app2",
        "2001:db8:2::10",
        "2001:db8:9::20",
        "other VRF's host (no route)",
    );

    // IPv6 reverse path (Linux's rp_filter is IPv4 only).
    for (ingress, src, dst, what) in [
        (
            "app",
            "2001:db8:172::5",
            "2001:db8:9::20",
            "uRPF route back via ingress",
        ),
        (
            "app",
            "2001:db8:3::20",
            "2001:db8:9::20",
            "uRPF source in a third network",
        ),
        (
            "app",
            "2001:db8:ffff::7",
            "2001:db8:9::20",
            "uRPF default route back via core",
        ),
        (
            "core",
            "2001:db8:9::20",
            "2001:db8:1::10",
            "uRPF source in ingress network",
        ),
        (
            "app2",
            "2001:db8:198::7",
            "2001:db8:198::20",
            "uRPF route back via core2",
        ),
        (
            "app2",
            "2001:db8:abcd::7",
            "2001:db8:198::20",
            "uRPF no route back",
        ),
    ] {
        c.add(ingress, src, dst, what);
    }
    assert!(
        c.0.len() < usize::from(u16::MAX - BASE),
        "case ids fit the ports"
    );
    c.0
}

// ---------------------------------------------------------------- outcomes

/// A forwarded copy: (egress network, destination MAC, source MAC,
/// datagram).
type Forwarded = (String, [u8; 6], [u8; 6], Vec<u8>);

/// What left the router about one case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CaseOut {
    /// Forwarded copies.
    fwd: BTreeSet<Forwarded>,
    /// ICMP about it or echo replies: (network sent out of, type, code).
    answers: BTreeSet<(String, u8, u8)>,
    /// Neighbour requests (ARP, NS) for its destination: (network, target).
    resolves: BTreeSet<(String, IpAddr)>,
}

impl CaseOut {
    fn show_fwd(&self) -> String {
        if self.fwd.is_empty() {
            return "not forwarded".into();
        }
        let v: Vec<String> = self
            .fwd
            .iter()
            .map(|(port, dst, _, d)| {
                let ttl = if d[0] >> 4 == 4 { d[8] } else { d[7] };
                format!(
                    "out {port} to {} ttl {ttl} ({} bytes)",
                    mac_text(*dst),
                    d.len()
                )
            })
            .collect();
        v.join(", ")
    }

    fn show_answers(&self) -> String {
        let mut v: Vec<String> = self
            .answers
            .iter()
            .map(|(port, t, c)| format!("ICMP {t}/{c} out {port}"))
            .collect();
        v.extend(
            self.resolves
                .iter()
                .map(|(port, a)| format!("asks for {a} on {port}")),
        );
        if v.is_empty() {
            return "no answer".into();
        }
        v.join(", ")
    }
}

/// A run's result: per case (index in [`cases`]), and frames that belong
/// to no case (the routers' own chatter), counted per kind.
struct Outcome {
    per_case: Vec<CaseOut>,
    other: Vec<String>,
    /// Frames attributed to a case but not well formed (bad checksum,
    /// TTL not decremented, wrong MACs): always a failure.
    malformed: Vec<String>,
    /// cnfwd's verdict per case from its packet trace (empty for the kernel).
    verdicts: Vec<String>,
}

/// The case a transport header belongs to (by port / echo id).
fn case_of(ip: &frames::Ip, n: usize) -> Option<usize> {
    let (sport, _) = ip.ports()?;
    let i = usize::from(sport.checked_sub(BASE)?);
    (i < n).then_some(i)
}

/// Sorts what the far ends captured into per-case outcomes.
fn classify(cases: &[Case], captured: &[(&'static str, Vec<Vec<u8>>)]) -> Outcome {
    let mut out = Outcome {
        per_case: vec![CaseOut::default(); cases.len()],
        other: Vec::new(),
        malformed: Vec::new(),
        verdicts: Vec::new(),
    };
    for (port, list) in captured {
        let n = net(port);
        for f in list {
            // A neighbour request for a case's destination: the router
            // means to send the case there.
            if let Some(target) = frames::resolution_target(f) {
                let mut hit = false;
                for (i, c) in cases.iter().enumerate() {
                    if c.dst == target && !c.broadcast_mac && net(c.ingress).vrf == n.vrf {
                        out.per_case[i].resolves.insert(((*port).into(), target));
                        hit = true;
                    }
                }
                if hit {
                    continue;
                }
                out.other.push(format!("{port}: who has {target}"));
                continue;
            }
            let Some(fr) = frames::read(f) else {
                out.other
                    .push(format!("{port}: runt frame of {} bytes", f.len()));
                continue;
            };
            let Some(ip) = fr.ip.as_ref() else {
                out.other
                    .push(format!("{port}: ethertype {:#06x}", fr.ethertype));
                continue;
            };
            // An ICMP error about a case, or an echo reply to one.
            let echo_reply = matches!(ip.icmp(), Some((0, 0)) | Some((129, 0)));
            if let Some(q) = ip.quoted() {
                if let Some(i) = case_of(&q, cases.len()) {
                    let (t, c) = ip.icmp().expect("an ICMP error");
                    out.per_case[i].answers.insert(((*port).into(), t, c));
                    continue;
                }
            }
            if echo_reply {
                if let Some(i) = case_of(ip, cases.len()) {
                    let (t, c) = ip.icmp().expect("an echo reply");
                    out.per_case[i].answers.insert(((*port).into(), t, c));
                    continue;
                }
            }
            let Some(i) = case_of(ip, cases.len()) else {
                let what = match ip.icmp() {
                    Some((t, c)) => format!("ICMP {t}/{c}"),
                    None => format!("protocol {}", ip.proto),
                };
                out.other
                    .push(format!("{port}: {} -> {} {what}", ip.src, ip.dst));
                continue;
            };
            let case = &cases[i];
            // The case's own datagram, forwarded: check it as a router's
            // output, whoever the router is.
            let mut bad = Vec::new();
            if fr.src_mac != n.router_mac {
                bad.push(format!("source MAC {}", mac_text(fr.src_mac)));
            }
            if !ip.header_ok {
                bad.push("IPv4 header checksum".into());
            }
            if ip.trailing != 0 {
                bad.push(format!("{} bytes after the datagram", ip.trailing));
            }
            let expect = frames::forwarded(&case.datagram(i));
            if ip.bytes != expect {
                bad.push(format!(
                    "datagram differs from the sent one with TTL-1 (ttl {} sent {})",
                    ip.ttl, case.ttl
                ));
            }
            if !bad.is_empty() {
                out.malformed
                    .push(format!("{}: out {port}: {}", case.name, bad.join(", ")));
            }
            out.per_case[i]
                .fwd
                .insert(((*port).into(), fr.dst_mac, fr.src_mac, ip.bytes.clone()));
        }
    }
    out
}

// ------------------------------------------------------------------- runs

/// The far ends' sockets (one per network, in [`NETS`] order), opened
/// before anything is sent.
struct FarEnds {
    sockets: Vec<RawSocket>,
}

impl FarEnds {
    fn open(hosts: &[(&'static str, Host)]) -> FarEnds {
        let sockets = NETS
            .iter()
            .map(|n| {
                let (_, h) = hosts
                    .iter()
                    .find(|(name, _)| *name == n.name)
                    .expect("a far end per network");
                RawSocket::open(&h.ns, "eth0")
            })
            .collect();
        FarEnds { sockets }
    }

    /// Drops what arrived so far (the routers' start-up chatter).
    fn flush(&self) {
        let _ = drain_all(
            &self.sockets,
            Duration::from_millis(50),
            Duration::from_millis(500),
        );
    }

    /// Sends every case from its ingress far end, waits until `settled`
    /// says the router took them all in (at most 10 s), then captures
    /// until the router has been quiet for a while.
    fn exchange(
        &self,
        cases: &[Case],
        settled: &dyn Fn() -> bool,
    ) -> Vec<(&'static str, Vec<Vec<u8>>)> {
        for (i, c) in cases.iter().enumerate() {
            let k = NETS
                .iter()
                .position(|n| n.name == c.ingress)
                .expect("ingress network");
            self.sockets[k].send(&c.frame(i));
            // Keeps the routers' input queues short (the kernel's backlog,
            // cnfwd's ring): the test is about verdicts, not load.
            std::thread::sleep(Duration::from_micros(300));
        }
        let end = Instant::now() + Duration::from_secs(10);
        while !settled() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        let got = drain_all(
            &self.sockets,
            Duration::from_millis(700),
            Duration::from_secs(10),
        );
        NETS.iter().map(|n| n.name).zip(got).collect()
    }
}

/// A far-end host for every network in `lab` (the router side named after
/// the network), IPv6 off on the far end so that it stays silent.
fn far_ends(lab: &mut Lab, vrf: Option<usize>) -> Vec<(&'static str, Host)> {
    NETS.iter()
        .filter(|n| vrf.is_none_or(|v| v == n.vrf))
        .map(|n| {
            let h = lab.host(n.name, n.far_mac, n.name, n.router_mac, 1500);
            sysctl(&h.ns, "net/ipv6/conf/eth0/disable_ipv6", "1");
            (n.name, h)
        })
        .collect()
}

/// The cases routed by the Linux kernel: one namespace per VRF.
fn kernel_run(cases: &[Case], mode: Mode) -> (Outcome, String) {
    let tag = match mode {
        Mode::Strict => "s",
        Mode::Loose => "l",
    };
    let mut labs = Vec::new();
    let mut hosts = Vec::new();
    for vrf in [1, 2] {
        let mut lab = Lab::new(&format!("kref-k{tag}{vrf}"));
        hosts.extend(far_ends(&mut lab, Some(vrf)));
        kernel_router(&lab.router, vrf, mode);
        labs.push(lab);
    }
    let ends = FarEnds::open(&hosts);
    ends.flush();
    let before: Vec<String> = labs.iter().map(|l| kernel_counters(&l.router)).collect();
    // The kernel routes a frame in the softirq the sender's own send()
    // runs: it has seen every frame when the sends return.
    let captured = ends.exchange(cases, &|| true);
    let mut counters = String::new();
    for (k, l) in labs.iter().enumerate() {
        let _ = writeln!(
            counters,
            "  VRF {} before: {}\n  VRF {} after:  {}",
            k + 1,
            before[k],
            k + 1,
            kernel_counters(&l.router)
        );
    }
    (classify(cases, &captured), counters)
}

/// Configures namespace `ns` as the kernel router of VRF `vrf`.
fn kernel_router(ns: &str, vrf: usize, mode: Mode) {
    let nets: Vec<&Net> = NETS.iter().filter(|n| n.vrf == vrf).collect();
    sysctl(ns, "net/ipv4/ip_forward", "1");
    sysctl(ns, "net/ipv4/icmp_ratelimit", "0");
    sysctl(ns, "net/ipv6/icmp/ratelimit", "0");
    sysctl(ns, "net/ipv4/icmp_msgs_per_sec", "100000");
    sysctl(ns, "net/ipv4/icmp_msgs_burst", "10000");
    let conf4 = [
        ("rp_filter", mode.rp_filter()),
        ("accept_local", "0"),
        ("route_localnet", "0"),
        ("log_martians", "0"),
        ("send_redirects", "0"),
        ("bc_forwarding", "0"),
    ];
    let devs: Vec<&str> = ["all", "default"]
        .into_iter()
        .chain(nets.iter().map(|n| n.name))
        .collect();
    for dev in &devs {
        for (k, v) in conf4 {
            sysctl(ns, &format!("net/ipv4/conf/{dev}/{k}"), v);
        }
    }
    for n in &nets {
        // Lab::host turned IPv6 off on the router's end; on again, without
        // duplicate address detection (nothing else is on the link).
        sysctl(ns, &format!("net/ipv6/conf/{}/accept_dad", n.name), "0");
        sysctl(ns, &format!("net/ipv6/conf/{}/disable_ipv6", n.name), "0");
        ip(&["-n", ns, "addr", "add", n.v4, "dev", n.name]).expect("IPv4 address");
        ip(&["-n", ns, "addr", "add", n.v6, "dev", n.name, "nodad"]).expect("IPv6 address");
    }
    for dev in ["all", "default"]
        .into_iter()
        .chain(nets.iter().map(|n| n.name))
    {
        sysctl(ns, &format!("net/ipv6/conf/{dev}/forwarding"), "1");
    }
    for (net_name, addr, mac) in NEIGHBORS {
        if net(net_name).vrf != vrf {
            continue;
        }
        ip(&[
            "-n",
            ns,
            "neigh",
            "replace",
            addr,
            "lladdr",
            &mac_text(mac),
            "nud",
            "permanent",
            "dev",
            net_name,
        ])
        .expect("static neighbour");
    }
    for (v, prefix, via) in ROUTES {
        if v == vrf {
            ip(&["-n", ns, "route", "add", prefix, "via", via]).expect("static route");
        }
    }
}

/// The kernel's counters of what its IP layer refused (`/proc/net/snmp`,
/// `/proc/net/netstat`, `/proc/net/snmp6`), for the log.
fn kernel_counters(ns: &str) -> String {
    let out = common::hosts::run_in(
        ns,
        &[
            "cat",
            "/proc/net/snmp",
            "/proc/net/netstat",
            "/proc/net/snmp6",
        ],
        Duration::from_secs(5),
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    let mut found = Vec::new();
    let want = [
        "InAddrErrors",
        "InNoRoutes",
        "ForwDatagrams",
        "IPReversePathFilter",
        "InDiscards",
        "InHdrErrors",
    ];
    for pair in lines.windows(2) {
        let (names, values) = (pair[0], pair[1]);
        let proto = names.split(':').next().unwrap_or("");
        if proto.is_empty() || !values.starts_with(&format!("{proto}:")) {
            continue;
        }
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            if want.contains(&n) && v != "0" {
                found.push(format!("{n}={v}"));
            }
        }
    }
    for l in &lines {
        let mut w = l.split_whitespace();
        if let (Some(n), Some(v)) = (w.next(), w.next()) {
            if [
                "Ip6InAddrErrors",
                "Ip6InNoRoutes",
                "Ip6OutForwDatagrams",
                "Ip6InDiscards",
                "Ip6InHdrErrors",
            ]
            .contains(&n)
                && v != "0"
            {
                found.push(format!("{n}={v}"));
            }
        }
    }
    found.join(" ")
}

/// cnfwd's configuration for the same networks, routes and neighbours.
fn cnfwd_config(mode: Mode) -> String {
    let mut s = String::from(
        "[engine]\nworkers = 1\n\n[slow_path]\nannounce = false\nicmp_burst = 1000\n\
         icmp_target_burst = 1000\n",
    );
    for vrf in [1, 2] {
        let _ = write!(s, "\n[[l3_isolation_domains]]\nname = \"vrf{vrf}\"\n");
        for (v, prefix, via) in ROUTES {
            if v == vrf {
                let _ = write!(
                    s,
                    "\n[[l3_isolation_domains.static_routes]]\nprefix = \"{prefix}\"\nnext_hop = \"{via}\"\n"
                );
            }
        }
    }
    for (k, n) in NETS.iter().enumerate() {
        let net4: ipnet::Ipv4Net = n.v4.parse().expect("IPv4 prefix");
        let net6: ipnet::Ipv6Net = n.v6.parse().expect("IPv6 prefix");
        let _ = write!(
            s,
            "\n[[l3_networks]]\nname = \"{}\"\nvlan = {}\nl3_isolation_domain = \"vrf{}\"\n\
             ip_allocation_type = \"DualStack\"\nipv4_connected_prefix = \"{}\"\n\
             ipv4_gateway = \"{}\"\nipv6_connected_prefix = \"{}\"\nipv6_gateway = \"{}\"\n\
             source_check = \"{}\"\nneighbors = [\n",
            n.name,
            100 + k,
            n.vrf,
            net4.trunc(),
            net4.addr(),
            net6.trunc(),
            net6.addr(),
            mode.source_check()
        );
        for (nn, addr, mac) in NEIGHBORS {
            if nn == n.name && !kernel_only(addr) {
                let _ = writeln!(s, "  {{ ip = \"{addr}\", mac = \"{}\" }},", mac_text(mac));
            }
        }
        s.push_str("]\n");
    }
    for n in &NETS {
        let _ = write!(
            s,
            "\n[[ports]]\nname = \"{0}\"\nbackend = \"af_packet\"\ninterface = \"{0}\"\n\
             mode = \"access\"\nnetworks = [\"{0}\"]\n",
            n.name
        );
    }
    s
}

/// The cases routed by cnfwd (AF_PACKET backend, one namespace).
fn cnfwd_run(cases: &[Case], mode: Mode) -> (Outcome, String) {
    let tag = match mode {
        Mode::Strict => "s",
        Mode::Loose => "l",
    };
    let mut lab = Lab::new(&format!("kref-c{tag}"));
    let hosts = far_ends(&mut lab, None);
    let ends = FarEnds::open(&hosts);
    let cnfwd = Cnfwd::start(&lab, &cnfwd_config(mode));
    ends.flush();
    cnfwd.call(
        "/trace/start",
        Some(serde_json::json!({ "count": cases.len() * 4 })),
    );
    let rx = || cnfwd.call("/stats", None)["totals"]["rx_packets"].as_u64();
    let before = rx().expect("rx_packets in /stats");
    let captured = ends.exchange(cases, &|| {
        rx().is_some_and(|n| n >= before + cases.len() as u64)
    });
    let trace = cnfwd.call("/trace/show", None);
    let stats = cnfwd.stop();
    assert_accounted(&stats);
    let drops = stats["drops"].to_string();
    let text = format!(
        "  totals: {}\n  drops: {drops}",
        serde_json::json!({
            "rx": stats["totals"]["rx_packets"],
            "tx": stats["totals"]["tx_packets"],
            "generated": stats["totals"]["generated"],
            "dropped": stats["totals"]["dropped"],
        })
    );
    drop(lab);
    let mut out = classify(cases, &captured);
    out.verdicts = traced_verdicts(cases, &trace["packets"]);
    (out, text)
}

/// cnfwd's verdict on each case, from its packet trace (`/trace/show`):
/// `tx <port>` or the drop reason. A record belongs to a case by ingress
/// port, destination and destination port (= the case's id, the echo
/// identifier for ICMP).
fn traced_verdicts(cases: &[Case], records: &serde_json::Value) -> Vec<String> {
    let mut v = vec![String::from("not traced"); cases.len()];
    for r in records.as_array().into_iter().flatten() {
        let found = cases.iter().enumerate().find(|(i, c)| {
            r["port"].as_str() == Some(c.ingress)
                && r["dst"].as_str() == Some(c.dst.to_string().as_str())
                && r["dst_port"].as_u64() == Some(u64::from(c.id(*i)))
        });
        let Some((i, _)) = found else { continue };
        v[i] = match r["verdict"].as_str() {
            Some("tx") => format!("tx {}", r["egress_port"].as_str().unwrap_or("?")),
            Some("drop") if r["icmp_error"].as_bool() == Some(true) => {
                format!("{} (ICMP error sent)", r["reason"].as_str().unwrap_or("?"))
            }
            Some("drop") => r["reason"].as_str().unwrap_or("?").to_owned(),
            other => other.unwrap_or("?").to_owned(),
        };
    }
    v
}

// ------------------------------------------------------------- differences

/// Which side does something the other does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Diff {
    /// The kernel forwards, cnfwd does not.
    KernelForwards,
    /// cnfwd forwards, the kernel does not.
    CnfwdForwards,
    /// Both forward, but not the same frame.
    ForwardedDiffer,
    /// The kernel answers (ICMP), cnfwd does not answer the same.
    KernelAnswers,
    /// cnfwd answers, the kernel does not answer the same.
    CnfwdAnswers,
    /// The kernel asks for the destination's MAC (ARP / NS), cnfwd does not.
    KernelResolves,
    /// cnfwd asks for the destination's MAC (ARP / NS), the kernel does not.
    CnfwdResolves,
}

/// In which runs a listed difference happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum In {
    Both,
    Only(Mode),
}

/// A listed difference: (case name, runs, what differs, why).
type Listed = (&'static str, In, Diff, &'static str);

const ZERO_NET: &str = "Linux >= 5.3 takes 0/8 as unicast except 0.0.0.0 (commit 96125bf9985a, \
     the IPv4 unicast extensions); RFC 1122 3.2.1.3 and RFC 1812 5.3.7 (issue 18) make all of \
     0/8 a martian, as cnfwd does";
const TO_ROUTER_UDP: &str = "the kernel is also a host: UDP to one of its addresses with no \
     listener gets port unreachable (RFC 1122 3.2.2.1); cnfwd has no transport endpoints on its \
     gateway addresses and answers only echo there (to_gateway, silent)";
const V4MAPPED: &str = "Linux (6.18 here) forwards IPv4-mapped addresses (::ffff:0:0/96); \
     RFC 4291 2.5.5.2 reserves them to hosts' APIs, RFC 6890 marks them not forwardable, and \
     issue 18 drops them (ip6_martian_source / ip6_martian_destination)";
const SCOPE_ANSWER: &str = "the kernel answers a link-local source routed off its link with \
     destination unreachable, beyond scope (RFC 4443 3.1, a SHOULD); cnfwd never answers \
     scope violations (issue 18, pcap case 43)";
const V6_OWN_SOURCE: &str = "Linux does no source validation when forwarding IPv6 (rp_filter \
     is IPv4 only, and no own-address check); cnfwd's reverse-path lookup finds its own \
     address and drops the packet as ip6_martian_source, as it does for IPv4";
const V6_RPF: &str = "Linux's rp_filter is IPv4 only; cnfwd applies source_check to IPv6 \
     too, as VPP's uRPF does (docs/design.md), so it drops what the kernel forwards";
const LINK_LOCAL_HAIRPIN: &str = "the kernel keeps a fe80::/64 route per interface and sends \
     a link-local destination back out the link it came from (RFC 4007 allows it within the \
     zone; with an ICMPv6 redirect for a global source, RFC 4861 8.2); cnfwd keeps no per-link \
     fe80::/64 routes, looks the address up in the VRF (here the default route, another \
     network) and refuses it as ip6_scope_violation, and it never sends redirects. Nothing \
     leaves the link in either";
const UNSPECIFIED_DST: &str = "Linux forwards :: as a destination along the default route; \
     RFC 4291 2.5.2 says it must never be a destination, and cnfwd drops it \
     (ip6_martian_destination)";

/// Legitimate differences between the kernel and cnfwd, with the reason.
const KNOWN: &[Listed] = &[
    (
        "v4 source 0/8: core 0.255.255.255 -> 10.1.0.10",
        In::Both,
        Diff::KernelForwards,
        ZERO_NET,
    ),
    (
        "v4 destination 0/8: app 10.1.0.10 -> 0.0.0.1",
        In::Both,
        Diff::KernelForwards,
        ZERO_NET,
    ),
    (
        "v4 destination 0/8: app 10.1.0.10 -> 0.255.255.255",
        In::Both,
        Diff::KernelForwards,
        ZERO_NET,
    ),
    (
        "v4 destination router's address on another network: app 10.1.0.10 -> 10.9.0.1",
        In::Both,
        Diff::KernelAnswers,
        TO_ROUTER_UDP,
    ),
    (
        "v4 destination router's address on ingress: app 10.1.0.10 -> 10.1.0.1",
        In::Both,
        Diff::KernelAnswers,
        TO_ROUTER_UDP,
    ),
    (
        "v6 source IPv4-mapped: core ::ffff:0.0.0.0 -> 2001:db8:1::10",
        In::Both,
        Diff::KernelForwards,
        V4MAPPED,
    ),
    (
        "v6 source IPv4-mapped: core ::ffff:10.9.0.20 -> 2001:db8:1::10",
        In::Both,
        Diff::KernelForwards,
        V4MAPPED,
    ),
    (
        "v6 source IPv4-mapped: core ::ffff:255.255.255.255 -> 2001:db8:1::10",
        In::Both,
        Diff::KernelForwards,
        V4MAPPED,
    ),
    (
        "v6 destination IPv4-mapped: app 2001:db8:1::10 -> ::ffff:10.9.0.20",
        In::Both,
        Diff::KernelForwards,
        V4MAPPED,
    ),
    (
        "v6 source link-local onto another link: core fe80::10 -> 2001:db8:1::10",
        In::Both,
        Diff::KernelAnswers,
        SCOPE_ANSWER,
    ),
    (
        "v6 source link-local onto another link: \
         core febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff -> 2001:db8:1::10",
        In::Both,
        Diff::KernelAnswers,
        SCOPE_ANSWER,
    ),
    (
        "v6 source router's address on ingress: core 2001:db8:9::1 -> 2001:db8:1::10",
        In::Both,
        Diff::KernelForwards,
        V6_OWN_SOURCE,
    ),
    (
        "v6 source router's address on egress: core 2001:db8:1::1 -> 2001:db8:1::10",
        In::Both,
        Diff::KernelForwards,
        V6_OWN_SOURCE,
    ),
    (
        "v6 destination unspecified: app 2001:db8:1::10 -> ::",
        In::Both,
        Diff::KernelForwards,
        UNSPECIFIED_DST,
    ),
    (
        "v6 destination link-local: app 2001:db8:1::10 -> fe80::20",
        In::Both,
        Diff::KernelForwards,
        LINK_LOCAL_HAIRPIN,
    ),
    (
        "v6 destination link-local: app 2001:db8:1::10 -> fe80::20",
        In::Both,
        Diff::KernelAnswers,
        LINK_LOCAL_HAIRPIN,
    ),
    (
        "v6 link-local on its own link: app fe80::10 -> fe80::20",
        In::Both,
        Diff::KernelForwards,
        LINK_LOCAL_HAIRPIN,
    ),
    (
        "v6 destination router's address on another network: app 2001:db8:1::10 -> 2001:db8:9::1",
        In::Both,
        Diff::KernelAnswers,
        TO_ROUTER_UDP,
    ),
    (
        "v6 destination router's address on ingress: app 2001:db8:1::10 -> 2001:db8:1::1",
        In::Both,
        Diff::KernelAnswers,
        TO_ROUTER_UDP,
    ),
    (
        "v6 uRPF source in a third network: app 2001:db8:3::20 -> 2001:db8:9::20",
        In::Only(Mode::Strict),
        Diff::KernelForwards,
        V6_RPF,
    ),
    (
        "v6 uRPF default route back via core: app 2001:db8:ffff::7 -> 2001:db8:9::20",
        In::Only(Mode::Strict),
        Diff::KernelForwards,
        V6_RPF,
    ),
    (
        "v6 uRPF route back via core2: app2 2001:db8:198::7 -> 2001:db8:198::20",
        In::Only(Mode::Strict),
        Diff::KernelForwards,
        V6_RPF,
    ),
    (
        "v6 uRPF no route back: app2 2001:db8:abcd::7 -> 2001:db8:198::20",
        In::Both,
        Diff::KernelForwards,
        V6_RPF,
    ),
];

/// Differences that are cnfwd bugs: none open. The comparison found two
/// (directed broadcasts taken for hosts as destinations, and another
/// network's directed broadcast accepted as a source under `loose`), fixed
/// with the broadcast routes of `tables.rs`; a new one goes here with its
/// reason until it is fixed.
const BUGS: &[Listed] = &[];

/// The differences of one case between the two outcomes.
fn diffs(k: &CaseOut, c: &CaseOut) -> Vec<Diff> {
    let mut d = Vec::new();
    match (k.fwd.is_empty(), c.fwd.is_empty()) {
        (false, true) => d.push(Diff::KernelForwards),
        (true, false) => d.push(Diff::CnfwdForwards),
        (false, false) if k.fwd != c.fwd => d.push(Diff::ForwardedDiffer),
        _ => {}
    }
    if !k.answers.is_subset(&c.answers) {
        d.push(Diff::KernelAnswers);
    }
    if !c.answers.is_subset(&k.answers) {
        d.push(Diff::CnfwdAnswers);
    }
    if !k.resolves.is_subset(&c.resolves) {
        d.push(Diff::KernelResolves);
    }
    if !c.resolves.is_subset(&k.resolves) {
        d.push(Diff::CnfwdResolves);
    }
    d
}

fn listed_in(list: &[Listed], name: &str, mode: Mode, diff: Diff) -> Option<&'static str> {
    list.iter()
        .find(|(n, runs, d, _)| {
            *n == name && *d == diff && (*runs == In::Both || *runs == In::Only(mode))
        })
        .map(|(_, _, _, why)| *why)
}

/// What [`compare`] found in one mode.
struct Comparison {
    /// Every case's outcome on both sides, the counters, the chatter.
    report: String,
    /// The differences: (case name, what differs).
    found: Vec<(String, Diff)>,
    /// Frames attributed to a case that no router should send.
    malformed: Vec<String>,
}

/// Runs both routers in `mode` (None: this machine cannot run them).
fn compare(mode: Mode) -> Option<Comparison> {
    if !can_run("kernel_reference", &[]) {
        return None;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cases = cases();
    let t = Instant::now();
    let (k, kcount) = kernel_run(&cases, mode);
    let tk = t.elapsed();
    let t = Instant::now();
    let (c, ccount) = cnfwd_run(&cases, mode);
    let tc = t.elapsed();

    // The lab works: the kernel forwards the plain cases, so a silent
    // router cannot pass for agreement.
    for (i, case) in cases.iter().enumerate() {
        if case.name.contains(" plain: ") {
            assert!(
                !k.per_case[i].fwd.is_empty(),
                "the kernel did not forward {}: the lab is broken (frames of no case: {:?})",
                case.name,
                k.other
            );
        }
    }
    let mut report = String::new();
    let _ = writeln!(
        report,
        "== {mode:?}: {} cases; kernel run {:.1} s, cnfwd run {:.1} s",
        cases.len(),
        tk.as_secs_f64(),
        tc.as_secs_f64()
    );
    let _ = writeln!(report, "kernel counters:\n{kcount}\ncnfwd:\n{ccount}");
    let mut found = Vec::new();
    let mut malformed = k.malformed.clone();
    malformed.extend(c.malformed.iter().map(|m| format!("cnfwd: {m}")));
    for (i, case) in cases.iter().enumerate() {
        let (ko, co) = (&k.per_case[i], &c.per_case[i]);
        let d = diffs(ko, co);
        let mark = if d.is_empty() { "  " } else { "!=" };
        let _ = writeln!(
            report,
            "{mark} {}\n     kernel: {}; {}\n     cnfwd:  {}; {} [{}]",
            case.name,
            ko.show_fwd(),
            ko.show_answers(),
            co.show_fwd(),
            co.show_answers(),
            c.verdicts.get(i).map_or("", String::as_str)
        );
        for x in d {
            let why = listed_in(KNOWN, &case.name, mode, x)
                .map(|w| format!("known: {w}"))
                .or_else(|| listed_in(BUGS, &case.name, mode, x).map(str::to_owned))
                .unwrap_or_else(|| "NOT LISTED".into());
            let _ = writeln!(report, "     {x:?}: {why}");
            found.push((case.name.clone(), x));
        }
    }
    let (mut both_fwd, mut neither_fwd, mut differ) = (0, 0, 0);
    for (ko, co) in k.per_case.iter().zip(&c.per_case) {
        if !diffs(ko, co).is_empty() {
            differ += 1;
        } else if ko.fwd.is_empty() {
            neither_fwd += 1;
        } else {
            both_fwd += 1;
        }
    }
    let listed = |list: &[Listed]| {
        found
            .iter()
            .filter(|(n, d)| listed_in(list, n, mode, *d).is_some())
            .count()
    };
    let _ = writeln!(
        report,
        "summary {mode:?}: {} cases; the same outcome for {}: forwarded identically by both {both_fwd}, \
         by neither {neither_fwd}; {differ} differ: {} listed legitimate differences, {} cnfwd bugs, {} not listed",
        cases.len(),
        both_fwd + neither_fwd,
        listed(KNOWN),
        listed(BUGS),
        found.len() - listed(KNOWN) - listed(BUGS)
    );
    let _ = writeln!(
        report,
        "frames of no case: kernel {}, cnfwd {}",
        k.other.len(),
        c.other.len()
    );
    for o in k.other.iter().take(20) {
        let _ = writeln!(report, "  kernel: {o}");
    }
    for o in c.other.iter().take(20) {
        let _ = writeln!(report, "  cnfwd: {o}");
    }
    Some(Comparison {
        report,
        found,
        malformed,
    })
}

/// Checks one mode: the same forwarded set (and the same answers) except
/// for the listed differences.
fn check(mode: Mode) {
    let Some(Comparison {
        report,
        found,
        malformed,
    }) = compare(mode)
    else {
        return;
    };
    println!("{report}");
    assert!(
        malformed.is_empty(),
        "frames that are no router's output:\n{}",
        malformed.join("\n")
    );
    let cases = cases();
    let mut problems = Vec::new();
    for (name, d) in &found {
        if listed_in(KNOWN, name, mode, *d).is_none() && listed_in(BUGS, name, mode, *d).is_none() {
            problems.push(format!("not listed: {name}: {d:?}"));
        }
    }
    for (name, runs, d, _) in KNOWN.iter().chain(BUGS) {
        if (*runs == In::Both || *runs == In::Only(mode))
            && !found.iter().any(|(n, x)| n == name && x == d)
        {
            problems.push(format!("listed but did not happen: {name}: {d:?}"));
        }
        assert!(
            cases.iter().any(|c| c.name == *name),
            "listed case {name} does not exist"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn same_forwarded_set_as_the_kernel_with_rp_filter_strict() {
    check(Mode::Strict);
}

#[test]
fn same_forwarded_set_as_the_kernel_with_rp_filter_loose() {
    check(Mode::Loose);
}
