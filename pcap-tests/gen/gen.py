#!/usr/bin/env python3
"""Generate cnfwd's pcap regression corpus (pcap-tests/cases/).

Run from the repository root:

    python3 pcap-tests/gen/gen.py

Every case is one function below. It writes its config.toml as literal text,
then lists the frames arriving on each port together with their expected fate,
written by hand from the rule the case exercises (pcap-tests/README.md):
either a drop reason, or the exact frames that must leave which ports. The
expected frames are built with scapy from the rule (new MACs, tag, TTL - 1,
checksums recomputed by scapy), never copied from cnfwd's output.

The only logic shared between cases is bookkeeping that is not forwarding:
the replay order (ports polled in configuration order, `burst_size` frames per
port per round), the counters implied by the hand-written fates, and sanity
checks that a case is consistent with its own configuration (names exist,
egress source MAC is the egress port's, tags carry the attached VLAN, ...).

Output is deterministic: fixed timestamps (1700000000 + k * 1 ms, k counting
the frames of a case in the order they are listed), no randomness.
"""

import argparse
import json
import re
import shutil
import struct
import sys
import textwrap
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from scapy.config import conf

conf.verb = 0

from scapy.layers.dns import DNS, DNSQR, DNSRR  # noqa: E402
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_Router_Alert  # noqa: E402
from scapy.layers.inet6 import (  # noqa: E402
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NS,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    PadN,
)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether  # noqa: E402
from scapy.packet import Padding, Raw  # noqa: E402
from scapy.utils import RawPcapWriter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]  # pcap-tests/
CASES_DIR = ROOT / "cases"
T0 = Decimal(1700000000)

BCAST = "ff:ff:ff:ff:ff:ff"

# Drop reasons (counter names of dataplane/src/pipeline/drop.rs, as listed in
# pcap-tests/README.md). The first group happens before a frame is classified
# to a network, so those drops are counted per port only.
PRE_CLASSIFY = {"eth_truncated", "tagged_on_access", "untagged_on_trunk", "unknown_vlan"}
REASONS = PRE_CLASSIFY | {
    "l2_same_port", "l2_no_egress", "mtu_exceeded",
    "arp", "inner_vlan_tag", "not_ip", "l3_multicast", "l3_mac_mismatch",
    "ip4_malformed", "ip4_bad_checksum", "ip6_malformed",
    "to_gateway", "no_route", "ttl_expired", "neighbor_miss", "no_egress_port",
    "csn_denied", "csn_no_flow", "csn_flow_table_full",
}

# ---------------------------------------------------------------------------
# Frame helpers
# ---------------------------------------------------------------------------


def q(vlan, pcp=0, dei=0):
    """An 802.1Q tag (TPID 0x8100)."""
    return Dot1Q(vlan=vlan, prio=pcp, dei=dei)


def ad(vlan, pcp=0, dei=0):
    """An 802.1ad service tag (TPID 0x88a8)."""
    return Dot1AD(vlan=vlan, prio=pcp, dei=dei)


def eth(src, dst, *tags, type=None):
    """Ethernet header plus optional tags (outermost first).

    `type` sets the EtherType after the last tag (needed when the payload is
    not a scapy layer that sets it, e.g. Raw)."""
    frame = Ether(src=src, dst=dst)
    for tag in tags:
        frame = frame / tag.copy()
    if type is not None:
        frame.lastlayer().type = type
    return frame


def l2data(src, dst, *tags, data=b"l2 payload", ethertype=0x88B5):
    """A non-IP frame (IEEE local experimental EtherType) for bridging cases;
    the payload is filled up to 46 bytes (a 60-byte untagged frame)."""
    return eth(src, dst, *tags, type=ethertype) / Raw(data.ljust(46, b"."))


def pad(n, seed=0xA0):
    """n bytes of Ethernet padding. Deliberately not zeros: cnfwd must copy
    the bytes after the IP packet as they are."""
    return Padding(load=bytes((seed + i) % 256 for i in range(n)))


def udp4(src, dst, ttl=64, sport=40000, dport=5000, data=b"cnfwd-udp4", chksum=None, **ip):
    p = IP(src=src, dst=dst, ttl=ttl, **ip) / UDP(sport=sport, dport=dport) / Raw(data)
    if chksum is not None:
        p[UDP].chksum = chksum
    return p


def tcp4(src, dst, ttl=64, sport=40001, dport=443, flags="S", seq=1000, ack=0, data=b"", **ip):
    p = IP(src=src, dst=dst, ttl=ttl, **ip) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
    return p / Raw(data) if data else p


def icmp4(src, dst, ttl=64, type=8, id=0x77, seq=1, data=b"cnfwd-ping", **ip):
    return IP(src=src, dst=dst, ttl=ttl, **ip) / ICMP(type=type, id=id, seq=seq) / Raw(data)


def udp6(src, dst, hlim=64, sport=40000, dport=5000, data=b"cnfwd-udp6", **ip6):
    return IPv6(src=src, dst=dst, hlim=hlim, **ip6) / UDP(sport=sport, dport=dport) / Raw(data)


def tcp6(src, dst, hlim=64, sport=40001, dport=443, flags="S", seq=2000, ack=0, data=b""):
    p = IPv6(src=src, dst=dst, hlim=hlim) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
    return p / Raw(data) if data else p


def icmp6(src, dst, hlim=64, reply=False, id=0x66, seq=1, data=b"cnfwd-ping6"):
    echo = ICMPv6EchoReply if reply else ICMPv6EchoRequest
    return IPv6(src=src, dst=dst, hlim=hlim) / echo(id=id, seq=seq, data=data)


def big_udp4(src, dst, total_len, ttl=64):
    """IPv4/UDP packet whose IPv4 total length is exactly total_len."""
    return udp4(src, dst, ttl=ttl, data=bytes(i % 251 for i in range(total_len - 28)))


def big_udp6(src, dst, ip_len, hlim=64):
    """IPv6/UDP packet whose length (40 + payload length) is exactly ip_len."""
    return udp6(src, dst, hlim=hlim, data=bytes(i % 251 for i in range(ip_len - 48)))


def with_bad_ip4_checksum(pkt):
    """The same packet with a wrong IPv4 header checksum."""
    good = IP(bytes(pkt[IP])).chksum
    bad = pkt.copy()
    bad[IP].chksum = good ^ 0x5A5A
    return bad


# ---------------------------------------------------------------------------
# Case bookkeeping (not forwarding logic)
# ---------------------------------------------------------------------------


@dataclass
class Tx:
    port: str
    net: str
    frame: bytes


def out(port, net, frame):
    """One frame expected on port `port`, sent out on network `net`."""
    return Tx(port, net, bytes(frame))


@dataclass
class Rx:
    port: str
    frame: bytes
    ts: Decimal
    net: str | None
    drop: str | None
    tx: list = field(default_factory=list)


def tags_of(frame: bytes):
    """[(tpid, vid), ...] of the tags at the start of a frame, and the
    EtherType after them (for sanity checks only)."""
    tags, off = [], 12
    while len(frame) >= off + 2:
        et = struct.unpack_from("!H", frame, off)[0]
        if et in (0x8100, 0x88A8) and len(frame) >= off + 4:
            tags.append((et, struct.unpack_from("!H", frame, off + 2)[0] & 0x0FFF))
            off += 4
            continue
        return tags, et
    return tags, None


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


class Case:
    def __init__(self, config):
        self.config = textwrap.dedent(config).lstrip()
        cfg = tomllib.loads(self.config)
        self.burst = cfg.get("engine", {}).get("burst_size", 32)
        self.ports = {p["name"]: p for p in cfg["ports"]}
        self.port_order = [p["name"] for p in cfg["ports"]]
        self.l3 = {n["name"]: n for n in cfg.get("l3_networks", [])}
        self.l2 = {n["name"]: n for n in cfg.get("l2_networks", [])}
        self.nets = {**self.l3, **self.l2}
        self.net_order = [n["name"] for n in cfg.get("l3_networks", []) + cfg.get("l2_networks", [])]
        self.trunks = {t["name"]: t for t in cfg.get("trunked_networks", [])}
        self.rx_list = []
        self.offset = Decimal(0)
        self._check_config()

    # -- sanity checks of the case against its own config --------------------

    def _check_config(self):
        for name, p in self.ports.items():
            assert p["backend"] == "pcap", name
            assert "mac" in p, name
            assert p["tx_pcap"] == f"out-{name}.pcap", name
            if "rx_pcap" in p:
                assert p["rx_pcap"] == f"in-{name}.pcap", name
            if p["mode"] == "access":
                assert len(p["networks"]) == 1 and p["networks"][0] in self.nets, name
            else:
                assert p["mode"] == "trunk" and p["trunked_network"] in self.trunks, name
        for n in self.l3.values():
            assert "ip_allocation_type" in n, n["name"]

    def attached_vlans(self, port):
        """{network name: vlan} the port carries (tagged if trunk)."""
        p = self.ports[port]
        if p["mode"] == "access":
            return {p["networks"][0]: None}
        vlans = self.trunks[p["trunked_network"]]["vlans"]
        res = {}
        for name in self.net_order:
            if self.nets[name]["vlan"] in vlans:
                res[name] = self.nets[name]["vlan"]
        return res

    def rx(self, port, frame, net=None, drop=None, tx=()):
        """A frame arriving on `port`. `net`: the network it is classified to
        (None when dropped before classification). Exactly one of `drop`
        (reason) or `tx` (list of out(...)) says what becomes of it."""
        assert port in self.ports and "rx_pcap" in self.ports[port], port
        assert (drop is None) != (not tx), "either drop or tx"
        if drop is not None:
            assert drop in REASONS, drop
            assert (net is None) == (drop in PRE_CLASSIFY), (drop, net)
        else:
            assert net is not None
        frame = bytes(frame)
        if net is not None:
            attached = self.attached_vlans(port)
            assert net in attached, (port, net)
            tags, _ = tags_of(frame)
            if attached[net] is not None:
                assert tags and tags[0][1] == attached[net], (port, net, tags)
        for t in tx:
            attached = self.attached_vlans(t.port)
            assert t.net in attached, (t.port, t.net)
            tags, _ = tags_of(t.frame)
            if attached[t.net] is not None:  # trunk: egress tag of the network
                assert tags and tags[0] == (0x8100, attached[t.net]), (t.port, tags)
            if t.net in self.l3:
                assert t.frame[6:12] == mac_bytes(self.ports[t.port]["mac"]), t.port
                nmacs = {mac_bytes(nb["mac"]) for nb in self.l3[t.net].get("neighbors", [])}
                assert t.frame[0:6] in nmacs, ("dst is not a neighbour of", t.net)
                if attached[t.net] is None:
                    assert not tags, ("access egress is untagged", t.port)
        ts = T0 + self.offset + Decimal(len(self.rx_list) + 1) / 1000
        self.rx_list.append(Rx(port, frame, ts, net, drop, list(tx)))

    def advance(self, seconds):
        """Frames listed after this call arrive `seconds` later (capture
        timestamps are cnfwd's clock for CSN timeouts in replay)."""
        self.offset += Decimal(seconds)

    # -- derived outputs ------------------------------------------------------

    def processing_order(self):
        """README "Replay order": ports in config order, at most burst_size
        frames per port per round, each burst processed to completion."""
        queues = {p: [r for r in self.rx_list if r.port == p] for p in self.port_order}
        order = []
        while any(queues.values()):
            for p in self.port_order:
                order += queues[p][: self.burst]
                queues[p] = queues[p][self.burst:]
        return order

    def stats(self):
        ports = {p: {"rx_packets": 0, "rx_bytes": 0, "tx_packets": 0, "tx_bytes": 0, "drops": {}}
                 for p in self.port_order}
        nets = {n: {"rx_packets": 0, "tx_packets": 0, "drops": {}} for n in self.net_order}
        drops = {}

        def bump(d, k):
            d[k] = d.get(k, 0) + 1

        for r in self.rx_list:
            ports[r.port]["rx_packets"] += 1
            ports[r.port]["rx_bytes"] += len(r.frame)
            if r.net is not None:
                nets[r.net]["rx_packets"] += 1
            if r.drop:
                bump(ports[r.port]["drops"], r.drop)
                bump(drops, r.drop)
                if r.net is not None:
                    bump(nets[r.net]["drops"], r.drop)
            for t in r.tx:
                ports[t.port]["tx_packets"] += 1
                ports[t.port]["tx_bytes"] += len(t.frame)
                nets[t.net]["tx_packets"] += 1
        for d in [drops] + [v["drops"] for v in ports.values()] + [v["drops"] for v in nets.values()]:
            items = sorted(d.items())
            d.clear()
            d.update(items)
        return {"ports": ports, "networks": nets, "drops": drops}

    def write(self, folder: Path, doc: str):
        folder.mkdir(parents=True)
        (folder / "config.toml").write_text(self.config)
        (folder / "README.md").write_text(doc + "\n")

        def pcap(path, items):
            # Classic pcap, microsecond timestamps, DLT_EN10MB; a header only
            # when there is nothing (an empty capture).
            w = RawPcapWriter(str(path), linktype=1, endianness="<")
            w.write_header(None)
            for ts, b in items:
                sec = int(ts)
                w.write_packet(b, sec=sec, usec=int((ts - sec) * 1000000))
            w.close()

        for p in self.port_order:
            if "rx_pcap" in self.ports[p]:
                items = [(r.ts, r.frame) for r in self.rx_list if r.port == p]
                assert items, f"port {p} has rx_pcap but no input"
                pcap(folder / f"in-{p}.pcap", items)
            else:
                assert not any(r.port == p for r in self.rx_list), p
        order = self.processing_order()
        for p in self.port_order:
            pcap(folder / f"expected-{p}.pcap",
                 [(r.ts, t.frame) for r in order for t in r.tx if t.port == p])
        (folder / "expected-stats.json").write_text(json.dumps(self.stats(), indent=2) + "\n")


CASES = []


def case(name):
    def deco(fn):
        CASES.append((name, fn))
        return fn
    return deco


def one_line(doc):
    return " ".join(doc.split())


# Port MACs (the forwarder's own) and host MACs used across cases.
P1, P2, P3, P4 = "02:00:00:00:01:01", "02:00:00:00:02:01", "02:00:00:00:03:01", "02:00:00:00:04:01"

# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


@case("01-l3-access-to-access")
def access_to_access():
    """IPv4 routing between two access ports (two L3 networks, one VRF, connected routes and static neighbours): MACs rewritten, TTL - 1, both directions, a hairpin back to the ingress network and an unrouted destination."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.1.0.0/24"
        neighbors = [
          { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
          { ip = "10.1.0.11", mac = "02:aa:00:00:01:11" },
        ]

        [[l3_networks]]
        name = "db"
        vlan = 200
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.2.0.0/24"
        neighbors = [
          { ip = "10.2.0.20", mac = "02:aa:00:00:02:20" },
          { ip = "10.2.0.21", mac = "02:aa:00:00:02:21" },
        ]

        [[ports]]
        name = "app"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["app"]
        rx_pcap = "in-app.pcap"
        tx_pcap = "out-app.pcap"

        [[ports]]
        name = "db"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["db"]
        rx_pcap = "in-db.pcap"
        tx_pcap = "out-db.pcap"
    """)
    H10, H11 = "02:aa:00:00:01:10", "02:aa:00:00:01:11"
    H20, H21 = "02:aa:00:00:02:20", "02:aa:00:00:02:21"

    c.rx("app", eth(H10, P1) / udp4("10.1.0.10", "10.2.0.20"), net="app",
         tx=[out("db", "db", eth(P2, H20) / udp4("10.1.0.10", "10.2.0.20", ttl=63))])
    c.rx("app", eth(H10, P1) / tcp4("10.1.0.10", "10.2.0.21"), net="app",
         tx=[out("db", "db", eth(P2, H21) / tcp4("10.1.0.10", "10.2.0.21", ttl=63))])
    c.rx("app", eth(H11, P1) / icmp4("10.1.0.11", "10.2.0.20", ttl=128), net="app",
         tx=[out("db", "db", eth(P2, H20) / icmp4("10.1.0.11", "10.2.0.20", ttl=127))])
    c.rx("app", eth(H10, P1) / udp4("10.1.0.10", "10.2.0.21", ttl=255, tos=0xB8, id=4242, flags="DF",
                                     data=b"x" * 300), net="app",
         tx=[out("db", "db", eth(P2, H21) / udp4("10.1.0.10", "10.2.0.21", ttl=254, tos=0xB8, id=4242,
                                                 flags="DF", data=b"x" * 300))])
    # Connected destination on the ingress network: routed back out the same port.
    c.rx("app", eth(H10, P1) / udp4("10.1.0.10", "10.1.0.11", dport=7), net="app",
         tx=[out("app", "app", eth(P1, H11) / udp4("10.1.0.10", "10.1.0.11", ttl=63, dport=7))])
    c.rx("app", eth(H10, P1) / udp4("10.1.0.10", "10.3.0.30"), net="app", drop="no_route")
    c.rx("app", eth(H11, P1) / tcp4("10.1.0.11", "10.2.0.20", flags="PA", seq=5000, ack=7000,
                                     data=b"GET / HTTP/1.1\r\n\r\n"), net="app",
         tx=[out("db", "db", eth(P2, H20) / tcp4("10.1.0.11", "10.2.0.20", ttl=63, flags="PA", seq=5000,
                                                 ack=7000, data=b"GET / HTTP/1.1\r\n\r\n"))])

    c.rx("db", eth(H20, P2) / udp4("10.2.0.20", "10.1.0.10", sport=5000, dport=40000), net="db",
         tx=[out("app", "app", eth(P1, H10) / udp4("10.2.0.20", "10.1.0.10", ttl=63, sport=5000,
                                                   dport=40000))])
    c.rx("db", eth(H21, P2) / tcp4("10.2.0.21", "10.1.0.10", sport=443, dport=40001, flags="SA",
                                    seq=9000, ack=1001), net="db",
         tx=[out("app", "app", eth(P1, H10) / tcp4("10.2.0.21", "10.1.0.10", ttl=63, sport=443, dport=40001,
                                                   flags="SA", seq=9000, ack=1001))])
    c.rx("db", eth(H20, P2) / icmp4("10.2.0.20", "10.1.0.11", type=0), net="db",
         tx=[out("app", "app", eth(P1, H11) / icmp4("10.2.0.20", "10.1.0.11", ttl=63, type=0))])
    c.rx("db", eth(H20, P2) / udp4("10.2.0.20", "192.0.2.1"), net="db", drop="no_route")
    return c


# Topology of cases 02 and 03: a trunk carrying two L3 networks, an access
# port towards the core, a default route via the core router.
TRUNK_ACCESS_CONFIG = """
    [[l3_isolation_domains]]
    name = "vrf1"

    [[l3_isolation_domains.static_routes]]
    prefix = "0.0.0.0/0"
    next_hop = "10.9.0.254"

    [[l3_networks]]
    name = "red"
    vlan = 100
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "IPV4"
    ipv4_connected_prefix = "10.1.0.0/24"
    neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }]

    [[l3_networks]]
    name = "blue"
    vlan = 200
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "IPV4"
    ipv4_connected_prefix = "10.2.0.0/24"
    neighbors = [{ ip = "10.2.0.20", mac = "02:aa:00:00:02:20" }]

    [[l3_networks]]
    name = "core"
    vlan = 300
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "IPV4"
    ipv4_connected_prefix = "10.9.0.0/24"
    neighbors = [{ ip = "10.9.0.254", mac = "02:cc:00:00:00:fe" }]

    [[trunked_networks]]
    name = "workload-trunk"
    vlans = [100, 200]

    [[ports]]
    name = "trunk"
    backend = "pcap"
    mac = "02:00:00:00:01:01"
    mode = "trunk"
    trunked_network = "workload-trunk"
    {trunk_rx}tx_pcap = "out-trunk.pcap"

    [[ports]]
    name = "core"
    backend = "pcap"
    mac = "02:00:00:00:02:01"
    mode = "access"
    networks = ["core"]
    {core_rx}tx_pcap = "out-core.pcap"
"""
RED_H, BLUE_H, CORE_R = "02:aa:00:00:01:10", "02:aa:00:00:02:20", "02:cc:00:00:00:fe"


@case("02-trunk-to-access")
def trunk_to_access():
    """Tagged frames from a trunk (VLANs 100 and 200) routed to an access port: the tag is removed whatever its PCP/DEI, frames are not re-padded (64 -> 60 and 60 -> 56 bytes), padding after the IP packet is kept."""
    c = Case(TRUNK_ACCESS_CONFIG.replace("{trunk_rx}", 'rx_pcap = "in-trunk.pcap"\n    ')
             .replace("{core_rx}", ""))
    c.rx("trunk", eth(RED_H, P1, q(100)) / udp4("10.1.0.10", "198.51.100.1"), net="red",
         tx=[out("core", "core", eth(P2, CORE_R) / udp4("10.1.0.10", "198.51.100.1", ttl=63))])
    c.rx("trunk", eth(BLUE_H, P1, q(200)) / tcp4("10.2.0.20", "10.9.0.254"), net="blue",
         tx=[out("core", "core", eth(P2, CORE_R) / tcp4("10.2.0.20", "10.9.0.254", ttl=63))])
    c.rx("trunk", eth(RED_H, P1, q(100, pcp=5, dei=1)) / icmp4("10.1.0.10", "203.0.113.7"), net="red",
         tx=[out("core", "core", eth(P2, CORE_R) / icmp4("10.1.0.10", "203.0.113.7", ttl=63))])
    # 64-byte tagged frame: 18 + 20 + 8 + 4 data + 14 padding; leaves as 60 bytes.
    fill = pad(14)
    f_in = eth(BLUE_H, P1, q(200)) / udp4("10.2.0.20", "198.51.100.2", data=b"abcd") / fill
    f_out = eth(P2, CORE_R) / udp4("10.2.0.20", "198.51.100.2", ttl=63, data=b"abcd") / fill
    assert (len(f_in), len(f_out)) == (64, 60)
    c.rx("trunk", f_in, net="blue", tx=[out("core", "core", f_out)])
    # 60-byte tagged minimum frame: 18 + 20 + 8 + 2 data + 12 padding; leaves as 56 bytes.
    fill = pad(12, seed=0x00)
    f_in = eth(RED_H, P1, q(100, pcp=3)) / udp4("10.1.0.10", "198.51.100.3", data=b"hi") / fill
    f_out = eth(P2, CORE_R) / udp4("10.1.0.10", "198.51.100.3", ttl=63, data=b"hi") / fill
    assert (len(f_in), len(f_out)) == (60, 56)
    c.rx("trunk", f_in, net="red", tx=[out("core", "core", f_out)])
    c.rx("trunk", eth(RED_H, P1, q(100)) / udp4("10.1.0.10", "10.2.0.99"), net="red", drop="neighbor_miss")
    c.rx("trunk", eth(BLUE_H, P1, q(200, pcp=7)) / tcp4("10.2.0.20", "192.0.2.80", dport=80, flags="PA",
                                                       data=b"payload" * 20), net="blue",
         tx=[out("core", "core", eth(P2, CORE_R) / tcp4("10.2.0.20", "192.0.2.80", ttl=63, dport=80,
                                                        flags="PA", data=b"payload" * 20))])
    return c


@case("03-access-to-trunk")
def access_to_trunk():
    """Untagged frames from an access port routed onto a trunk: the egress network's 802.1Q tag is pushed with PCP 0 and DEI 0, including for a priority-tagged (VID 0, PCP 0) ingress; a 60-byte frame leaves as 64 bytes with its padding."""
    c = Case(TRUNK_ACCESS_CONFIG.replace("{trunk_rx}", "")
             .replace("{core_rx}", 'rx_pcap = "in-core.pcap"\n    '))
    c.rx("core", eth(CORE_R, P2) / udp4("198.51.100.1", "10.1.0.10"), net="core",
         tx=[out("trunk", "red", eth(P1, RED_H, q(100)) / udp4("198.51.100.1", "10.1.0.10", ttl=63))])
    c.rx("core", eth(CORE_R, P2) / tcp4("203.0.113.7", "10.2.0.20", sport=443, dport=40001, flags="SA"),
         net="core",
         tx=[out("trunk", "blue", eth(P1, BLUE_H, q(200)) / tcp4("203.0.113.7", "10.2.0.20", ttl=63, sport=443,
                                                                 dport=40001, flags="SA"))])
    c.rx("core", eth(CORE_R, P2) / icmp4("10.9.0.254", "10.2.0.20", type=0), net="core",
         tx=[out("trunk", "blue", eth(P1, BLUE_H, q(200)) / icmp4("10.9.0.254", "10.2.0.20", ttl=63, type=0))])
    # Priority tag (VID 0, PCP 0): classified as untagged; the pushed tag has PCP 0.
    c.rx("core", eth(CORE_R, P2, q(0)) / udp4("198.51.100.9", "10.1.0.10", data=b"prio-tagged"), net="core",
         tx=[out("trunk", "red", eth(P1, RED_H, q(100)) / udp4("198.51.100.9", "10.1.0.10", ttl=63,
                                                               data=b"prio-tagged"))])
    # 60-byte minimum frame: 14 + 20 + 8 + 1 data + 17 padding; leaves as 64 bytes.
    fill = pad(17, seed=0x40)
    f_in = eth(CORE_R, P2) / udp4("198.51.100.4", "10.1.0.10", data=b"!") / fill
    f_out = eth(P1, RED_H, q(100)) / udp4("198.51.100.4", "10.1.0.10", ttl=63, data=b"!") / fill
    assert (len(f_in), len(f_out)) == (60, 64)
    c.rx("core", f_in, net="core", tx=[out("trunk", "red", f_out)])
    c.rx("core", eth(CORE_R, P2) / udp4("198.51.100.1", "10.1.0.99"), net="core", drop="neighbor_miss")
    c.rx("core", eth(CORE_R, P2) / udp4("198.51.100.1", "10.2.0.20", data=b"z" * 1000), net="core",
         tx=[out("trunk", "blue", eth(P1, BLUE_H, q(200)) / udp4("198.51.100.1", "10.2.0.20", ttl=63,
                                                                 data=b"z" * 1000))])
    return c


@case("04-trunk-vlan-rewrite")
def trunk_vlan_rewrite():
    """Trunk to trunk routing rewrites the VLAN: hairpin on one trunk (VLAN 100 <-> 200) and between two trunks (VLAN 100/200 <-> 300), with PCP and DEI copied from the ingress tag."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_networks]]
        name = "a"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.1.0.0/24"
        neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }]

        [[l3_networks]]
        name = "b"
        vlan = 200
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.2.0.0/24"
        neighbors = [{ ip = "10.2.0.20", mac = "02:aa:00:00:02:20" }]

        [[l3_networks]]
        name = "c"
        vlan = 300
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.3.0.0/24"
        neighbors = [{ ip = "10.3.0.30", mac = "02:aa:00:00:03:30" }]

        [[trunked_networks]]
        name = "tn1"
        vlans = [100, 200]

        [[trunked_networks]]
        name = "tn2"
        vlans = [300]

        [[ports]]
        name = "trunk1"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "trunk"
        trunked_network = "tn1"
        rx_pcap = "in-trunk1.pcap"
        tx_pcap = "out-trunk1.pcap"

        [[ports]]
        name = "trunk2"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "trunk"
        trunked_network = "tn2"
        rx_pcap = "in-trunk2.pcap"
        tx_pcap = "out-trunk2.pcap"
    """)
    HA, HB, HC = "02:aa:00:00:01:10", "02:aa:00:00:02:20", "02:aa:00:00:03:30"
    # Hairpin on trunk1.
    c.rx("trunk1", eth(HA, P1, q(100, pcp=3)) / udp4("10.1.0.10", "10.2.0.20"), net="a",
         tx=[out("trunk1", "b", eth(P1, HB, q(200, pcp=3)) / udp4("10.1.0.10", "10.2.0.20", ttl=63))])
    c.rx("trunk1", eth(HB, P1, q(200, pcp=7, dei=1)) / udp4("10.2.0.20", "10.1.0.10", sport=5000, dport=40000),
         net="b",
         tx=[out("trunk1", "a", eth(P1, HA, q(100, pcp=7, dei=1)) / udp4("10.2.0.20", "10.1.0.10", ttl=63,
                                                                        sport=5000, dport=40000))])
    c.rx("trunk1", eth(HA, P1, q(100, dei=1)) / icmp4("10.1.0.10", "10.2.0.20"), net="a",
         tx=[out("trunk1", "b", eth(P1, HB, q(200, dei=1)) / icmp4("10.1.0.10", "10.2.0.20", ttl=63))])
    # trunk1 -> trunk2.
    c.rx("trunk1", eth(HA, P1, q(100, pcp=5)) / tcp4("10.1.0.10", "10.3.0.30"), net="a",
         tx=[out("trunk2", "c", eth(P2, HC, q(300, pcp=5)) / tcp4("10.1.0.10", "10.3.0.30", ttl=63))])
    c.rx("trunk1", eth(HB, P1, q(200, pcp=2, dei=1)) / udp4("10.2.0.20", "10.3.0.30"), net="b",
         tx=[out("trunk2", "c", eth(P2, HC, q(300, pcp=2, dei=1)) / udp4("10.2.0.20", "10.3.0.30", ttl=63))])
    c.rx("trunk1", eth(HA, P1, q(100, pcp=6)) / udp4("10.1.0.10", "10.4.0.40"), net="a", drop="no_route")
    # trunk2 -> trunk1.
    c.rx("trunk2", eth(HC, P2, q(300, pcp=1, dei=1)) / udp4("10.3.0.30", "10.1.0.10"), net="c",
         tx=[out("trunk1", "a", eth(P1, HA, q(100, pcp=1, dei=1)) / udp4("10.3.0.30", "10.1.0.10", ttl=63))])
    c.rx("trunk2", eth(HC, P2, q(300, pcp=4)) / tcp4("10.3.0.30", "10.2.0.20", sport=22, dport=50000,
                                                    flags="SA"), net="c",
         tx=[out("trunk1", "b", eth(P1, HB, q(200, pcp=4)) / tcp4("10.3.0.30", "10.2.0.20", ttl=63, sport=22,
                                                                 dport=50000, flags="SA"))])
    c.rx("trunk2", eth(HC, P2, q(300)) / icmp4("10.3.0.30", "10.1.0.10"), net="c",
         tx=[out("trunk1", "a", eth(P1, HA, q(100)) / icmp4("10.3.0.30", "10.1.0.10", ttl=63))])
    return c


@case("05-vrf-overlap")
def vrf_overlap():
    """Two VRFs reuse the same prefixes: the same destination is routed to each VRF's own neighbour and port (red and blue core), and a destination routed only in red is no_route in blue."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "red"

        [[l3_isolation_domains.static_routes]]
        prefix = "0.0.0.0/0"
        next_hop = "10.10.0.254"

        [[l3_isolation_domains]]
        name = "blue"

        [[l3_isolation_domains.static_routes]]
        prefix = "198.51.100.0/24"
        next_hop = "10.10.0.254"

        [[l3_networks]]
        name = "red-app"
        vlan = 100
        l3_isolation_domain = "red"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.1.0.0/24"
        neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }]

        [[l3_networks]]
        name = "red-core"
        vlan = 110
        l3_isolation_domain = "red"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.10.0.0/24"
        neighbors = [{ ip = "10.10.0.254", mac = "02:cc:00:00:01:fe" }]

        [[l3_networks]]
        name = "blue-app"
        vlan = 200
        l3_isolation_domain = "blue"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.1.0.0/24"
        neighbors = [{ ip = "10.1.0.10", mac = "02:bb:00:00:01:10" }]

        [[l3_networks]]
        name = "blue-core"
        vlan = 210
        l3_isolation_domain = "blue"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.10.0.0/24"
        neighbors = [{ ip = "10.10.0.254", mac = "02:dd:00:00:01:fe" }]

        [[trunked_networks]]
        name = "workload-trunk"
        vlans = [100, 200]
        isolation_domains = ["red", "blue"]

        [[ports]]
        name = "workload"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "trunk"
        trunked_network = "workload-trunk"
        rx_pcap = "in-workload.pcap"
        tx_pcap = "out-workload.pcap"

        [[ports]]
        name = "red-core"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["red-core"]
        rx_pcap = "in-red-core.pcap"
        tx_pcap = "out-red-core.pcap"

        [[ports]]
        name = "blue-core"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "access"
        networks = ["blue-core"]
        rx_pcap = "in-blue-core.pcap"
        tx_pcap = "out-blue-core.pcap"
    """)
    RA, RC = "02:aa:00:00:01:10", "02:cc:00:00:01:fe"
    BA, BC = "02:bb:00:00:01:10", "02:dd:00:00:01:fe"
    for dst in ["198.51.100.7", "10.10.0.254"]:
        c.rx("workload", eth(RA, P1, q(100)) / udp4("10.1.0.10", dst), net="red-app",
             tx=[out("red-core", "red-core", eth(P2, RC) / udp4("10.1.0.10", dst, ttl=63))])
        c.rx("workload", eth(BA, P1, q(200)) / udp4("10.1.0.10", dst), net="blue-app",
             tx=[out("blue-core", "blue-core", eth(P3, BC) / udp4("10.1.0.10", dst, ttl=63))])
    c.rx("workload", eth(RA, P1, q(100)) / tcp4("10.1.0.10", "203.0.113.9"), net="red-app",
         tx=[out("red-core", "red-core", eth(P2, RC) / tcp4("10.1.0.10", "203.0.113.9", ttl=63))])
    c.rx("workload", eth(BA, P1, q(200)) / tcp4("10.1.0.10", "203.0.113.9"), net="blue-app", drop="no_route")
    c.rx("red-core", eth(RC, P2) / udp4("198.51.100.7", "10.1.0.10", sport=5000, dport=40000), net="red-core",
         tx=[out("workload", "red-app", eth(P1, RA, q(100)) / udp4("198.51.100.7", "10.1.0.10", ttl=63,
                                                                   sport=5000, dport=40000))])
    c.rx("red-core", eth(RC, P2) / tcp4("203.0.113.9", "10.1.0.10", sport=443, dport=40001, flags="SA"),
         net="red-core",
         tx=[out("workload", "red-app", eth(P1, RA, q(100)) / tcp4("203.0.113.9", "10.1.0.10", ttl=63, sport=443,
                                                                   dport=40001, flags="SA"))])
    c.rx("blue-core", eth(BC, P3) / udp4("198.51.100.7", "10.1.0.10", sport=5000, dport=40000),
         net="blue-core",
         tx=[out("workload", "blue-app", eth(P1, BA, q(200)) / udp4("198.51.100.7", "10.1.0.10", ttl=63,
                                                                    sport=5000, dport=40000))])
    c.rx("blue-core", eth(BC, P3) / udp4("10.10.0.254", "10.1.0.99"), net="blue-core", drop="neighbor_miss")
    return c


@case("06-ipv6-routing")
def ipv6_routing():
    """IPv6 routing: connected and static (via next hop) routes, hop limit - 1, a packet with hop-by-hop and routing extension headers forwarded unchanged otherwise, hop limit 2 forwarded with 1, an unrouted destination, and replies."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "v6"

        [[l3_isolation_domains.static_routes]]
        prefix = "2001:db8:100::/48"
        next_hop = "2001:db8:ff::fe"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "v6"
        ip_allocation_type = "IPV6"
        ipv6_connected_prefix = "2001:db8:1::/64"
        neighbors = [
          { ip = "2001:db8:1::10", mac = "02:aa:00:00:01:10" },
          { ip = "2001:db8:1::11", mac = "02:aa:00:00:01:11" },
        ]

        [[l3_networks]]
        name = "core"
        vlan = 200
        l3_isolation_domain = "v6"
        ip_allocation_type = "IPV6"
        ipv6_connected_prefix = "2001:db8:ff::/64"
        neighbors = [{ ip = "2001:db8:ff::fe", mac = "02:cc:00:00:00:fe" }]

        [[ports]]
        name = "app"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["app"]
        rx_pcap = "in-app.pcap"
        tx_pcap = "out-app.pcap"

        [[ports]]
        name = "core"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["core"]
        rx_pcap = "in-core.pcap"
        tx_pcap = "out-core.pcap"
    """)
    H10, H11, R = "02:aa:00:00:01:10", "02:aa:00:00:01:11", "02:cc:00:00:00:fe"
    A, A2 = "2001:db8:1::10", "2001:db8:1::11"
    c.rx("app", eth(H10, P1) / udp6(A, "2001:db8:ff::fe"), net="app",
         tx=[out("core", "core", eth(P2, R) / udp6(A, "2001:db8:ff::fe", hlim=63))])
    c.rx("app", eth(H10, P1) / udp6(A, "2001:db8:100:5::1"), net="app",
         tx=[out("core", "core", eth(P2, R) / udp6(A, "2001:db8:100:5::1", hlim=63))])
    c.rx("app", eth(H11, P1) / icmp6(A2, "2001:db8:100::77", hlim=255), net="app",
         tx=[out("core", "core", eth(P2, R) / icmp6(A2, "2001:db8:100::77", hlim=254))])
    c.rx("app", eth(H10, P1) / tcp6(A, "2001:db8:100:ffff::443"), net="app",
         tx=[out("core", "core", eth(P2, R) / tcp6(A, "2001:db8:100:ffff::443", hlim=63))])

    def ext(hlim):
        return (IPv6(src=A, dst="2001:db8:100::1", hlim=hlim, tc=0x28, fl=0x12345)
                / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\x00\x00\x00\x00")])
                / IPv6ExtHdrRouting(addresses=["2001:db8:100::99"], segleft=1)
                / UDP(sport=40000, dport=5000) / Raw(b"extension headers"))
    c.rx("app", eth(H10, P1) / ext(64), net="app", tx=[out("core", "core", eth(P2, R) / ext(63))])
    c.rx("app", eth(H10, P1) / udp6(A, "2001:db8:100::2", hlim=2), net="app",
         tx=[out("core", "core", eth(P2, R) / udp6(A, "2001:db8:100::2", hlim=1))])
    # Connected on the ingress network: hairpin.
    c.rx("app", eth(H10, P1) / udp6(A, A2), net="app",
         tx=[out("app", "app", eth(P1, H11) / udp6(A, A2, hlim=63))])
    c.rx("app", eth(H10, P1) / udp6(A, "2001:db8:200::1"), net="app", drop="no_route")
    c.rx("app", eth(H10, P1) / udp6(A, "2001:db8:ff::99"), net="app", drop="neighbor_miss")

    c.rx("core", eth(R, P2) / udp6("2001:db8:100:5::1", A, sport=5000, dport=40000), net="core",
         tx=[out("app", "app", eth(P1, H10) / udp6("2001:db8:100:5::1", A, hlim=63, sport=5000, dport=40000))])
    c.rx("core", eth(R, P2) / icmp6("2001:db8:100::77", A2, reply=True, hlim=60), net="core",
         tx=[out("app", "app", eth(P1, H11) / icmp6("2001:db8:100::77", A2, reply=True, hlim=59))])
    return c


@case("07-qinq")
def qinq():
    """Stacked tags on a trunk: on an L3 network a second tag (802.1ad over 802.1Q, or 802.1Q over 802.1Q) is dropped inner_vlan_tag; on an L2 network it is bridged with the inner tag kept as payload; a single 802.1ad tag is a port tag like 802.1Q and the routed egress tag is 802.1Q."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.1.0.0/24"
        neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }]

        [[l3_networks]]
        name = "app2"
        vlan = 101
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.11.0.0/24"
        neighbors = [{ ip = "10.11.0.10", mac = "02:aa:00:00:11:10" }]

        [[l3_networks]]
        name = "core"
        vlan = 200
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.9.0.0/24"
        neighbors = [{ ip = "10.9.0.254", mac = "02:cc:00:00:00:fe" }]

        [[l2_networks]]
        name = "storage"
        vlan = 300
        mtu = 1500

        [[trunked_networks]]
        name = "tn"
        vlans = [100, 101, 300]

        [[ports]]
        name = "trunk"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "trunk"
        trunked_network = "tn"
        rx_pcap = "in-trunk.pcap"
        tx_pcap = "out-trunk.pcap"

        [[ports]]
        name = "core"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["core"]
        tx_pcap = "out-core.pcap"

        [[ports]]
        name = "storage"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "access"
        networks = ["storage"]
        rx_pcap = "in-storage.pcap"
        tx_pcap = "out-storage.pcap"
    """)
    HA, HA2, R = "02:aa:00:00:01:10", "02:aa:00:00:11:10", "02:cc:00:00:00:fe"
    S1, S2 = "02:55:00:00:00:01", "02:55:00:00:00:02"  # storage hosts
    ip = udp4("10.1.0.10", "10.9.0.254")
    # L3 network: a second tag after the port's tag.
    c.rx("trunk", eth(HA, P1, ad(100), q(5)) / ip, net="app", drop="inner_vlan_tag")
    c.rx("trunk", eth(HA, P1, q(100), q(6)) / ip, net="app", drop="inner_vlan_tag")
    c.rx("trunk", eth(HA, P1, ad(100), ad(7)) / ip, net="app", drop="inner_vlan_tag")
    # L3 network, single 802.1ad tag: routed; egress tag 802.1Q with the PCP copied.
    c.rx("trunk", eth(HA, P1, ad(100)) / ip, net="app",
         tx=[out("core", "core", eth(P2, R) / udp4("10.1.0.10", "10.9.0.254", ttl=63))])
    c.rx("trunk", eth(HA, P1, ad(100, pcp=2)) / udp4("10.1.0.10", "10.11.0.10"), net="app",
         tx=[out("trunk", "app2", eth(P1, HA2, q(101, pcp=2)) / udp4("10.1.0.10", "10.11.0.10", ttl=63))])
    # L2 network: the inner tag is payload, kept as is (unknown destinations: flooded).
    c.rx("trunk", eth(S1, BCAST, ad(300), q(5, pcp=3)) / udp4("192.168.5.1", "192.168.5.255"), net="storage",
         tx=[out("storage", "storage", eth(S1, BCAST, q(5, pcp=3)) / udp4("192.168.5.1", "192.168.5.255"))])
    c.rx("trunk", eth(S1, S2, q(300), q(7)) / udp4("192.168.7.1", "192.168.7.2"), net="storage",
         tx=[out("storage", "storage", eth(S1, S2, q(7)) / udp4("192.168.7.1", "192.168.7.2"))])
    c.rx("trunk", l2data(S1, S2, ad(300), ad(8), q(9), data=b"three tags"), net="storage",
         tx=[out("storage", "storage", l2data(S1, S2, ad(8), q(9), data=b"three tags"))])
    # From the L2 access port: untagged goes to the trunk with the 802.1Q tag of
    # the network (S1 was learned on the trunk); a tagged frame is dropped.
    c.rx("storage", eth(S2, S1) / udp4("192.168.7.2", "192.168.7.1"), net="storage",
         tx=[out("trunk", "storage", eth(S2, S1, q(300)) / udp4("192.168.7.2", "192.168.7.1"))])
    c.rx("storage", eth(S2, S1, q(5)) / udp4("192.168.5.2", "192.168.5.1"), drop="tagged_on_access")
    return c


@case("08-classification")
def classification():
    """Classification of (port, tag): unknown VLANs (including a VLAN of an existing network not carried by the trunk), untagged and priority-tagged frames on a trunk, tagged frames on an access port; a priority-tagged (VID 0) frame on an access port is routed like an untagged one."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_networks]]
        name = "a"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.1.0.0/24"
        neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }]

        [[l3_networks]]
        name = "b"
        vlan = 200
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.2.0.0/24"
        neighbors = [{ ip = "10.2.0.20", mac = "02:aa:00:00:02:20" }]

        [[l3_networks]]
        name = "c"
        vlan = 300
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.3.0.0/24"
        neighbors = [{ ip = "10.3.0.30", mac = "02:aa:00:00:03:30" }]

        [[trunked_networks]]
        name = "tn"
        vlans = [100]

        [[ports]]
        name = "trunk"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "trunk"
        trunked_network = "tn"
        rx_pcap = "in-trunk.pcap"
        tx_pcap = "out-trunk.pcap"

        [[ports]]
        name = "acc-b"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["b"]
        rx_pcap = "in-acc-b.pcap"
        tx_pcap = "out-acc-b.pcap"

        [[ports]]
        name = "acc-c"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "access"
        networks = ["c"]
        tx_pcap = "out-acc-c.pcap"
    """)
    HA, HB, HC = "02:aa:00:00:01:10", "02:aa:00:00:02:20", "02:aa:00:00:03:30"
    c.rx("trunk", eth(HA, P1, q(100)) / udp4("10.1.0.10", "10.2.0.20"), net="a",
         tx=[out("acc-b", "b", eth(P2, HB) / udp4("10.1.0.10", "10.2.0.20", ttl=63))])
    c.rx("trunk", eth(HA, P1, q(999)) / udp4("10.1.0.10", "10.2.0.20"), drop="unknown_vlan")
    c.rx("trunk", eth(HA, P1, q(200)) / udp4("10.1.0.10", "10.2.0.20"), drop="unknown_vlan")
    c.rx("trunk", eth(HA, P1, ad(4094)) / udp4("10.1.0.10", "10.2.0.20"), drop="unknown_vlan")
    c.rx("trunk", eth(HA, P1) / udp4("10.1.0.10", "10.2.0.20"), drop="untagged_on_trunk")
    c.rx("trunk", eth(HA, P1, q(0, pcp=5)) / udp4("10.1.0.10", "10.2.0.20"), drop="untagged_on_trunk")
    c.rx("trunk", eth(HA, BCAST) / ARP(hwsrc=HA, psrc="10.1.0.10", pdst="10.1.0.1"), drop="untagged_on_trunk")
    c.rx("trunk", eth(HA, P1, q(100)) / udp4("10.1.0.10", "10.3.0.30"), net="a",
         tx=[out("acc-c", "c", eth(P3, HC) / udp4("10.1.0.10", "10.3.0.30", ttl=63))])

    c.rx("acc-b", eth(HB, P2) / udp4("10.2.0.20", "10.1.0.10"), net="b",
         tx=[out("trunk", "a", eth(P1, HA, q(100)) / udp4("10.2.0.20", "10.1.0.10", ttl=63))])
    c.rx("acc-b", eth(HB, P2, q(200)) / udp4("10.2.0.20", "10.1.0.10"), drop="tagged_on_access")
    c.rx("acc-b", eth(HB, P2, q(100)) / udp4("10.2.0.20", "10.1.0.10"), drop="tagged_on_access")
    c.rx("acc-b", eth(HB, P2, ad(1)) / udp4("10.2.0.20", "10.1.0.10"), drop="tagged_on_access")
    # Priority tag: untagged for classification; removed on the access egress (4 bytes shorter).
    c.rx("acc-b", eth(HB, P2, q(0, pcp=4)) / udp4("10.2.0.20", "10.3.0.30", data=b"priority"), net="b",
         tx=[out("acc-c", "c", eth(P3, HC) / udp4("10.2.0.20", "10.3.0.30", ttl=63, data=b"priority"))])
    c.rx("acc-b", eth(HB, P2, q(0, pcp=0)) / tcp4("10.2.0.20", "10.1.0.10"), net="b",
         tx=[out("trunk", "a", eth(P1, HA, q(100)) / tcp4("10.2.0.20", "10.1.0.10", ttl=63))])
    # Priority tag followed by a real tag: the real tag is a second tag.
    c.rx("acc-b", eth(HB, P2, q(0), q(300)) / udp4("10.2.0.20", "10.3.0.30"), net="b", drop="inner_vlan_tag")
    return c


# Two access ports, dual stack, for the L3 drop-rule cases 09-12 and 16-17.
DUAL_CONFIG = """
    [[l3_isolation_domains]]
    name = "vrf1"
    {routes}
    [[l3_networks]]
    name = "app"
    vlan = 100
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "DualStack"
    ipv4_connected_prefix = "10.1.0.0/24"
    ipv6_connected_prefix = "2001:db8:1::/64"
    neighbors = [
      { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
      { ip = "2001:db8:1::10", mac = "02:aa:00:00:01:10" },
    ]

    [[l3_networks]]
    name = "core"
    vlan = 200
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "DualStack"
    ipv4_connected_prefix = "10.9.0.0/24"
    ipv6_connected_prefix = "2001:db8:9::/64"{core_extra}
    neighbors = [
      { ip = "10.9.0.254", mac = "02:cc:00:00:00:fe" },
      { ip = "2001:db8:9::fe", mac = "02:cc:00:00:00:fe" },
    ]
    {extra_networks}
    [[ports]]
    name = "app"
    backend = "pcap"
    mac = "02:00:00:00:01:01"
    mode = "access"
    networks = ["app"]
    rx_pcap = "in-app.pcap"
    tx_pcap = "out-app.pcap"

    [[ports]]
    name = "core"
    backend = "pcap"
    mac = "02:00:00:00:02:01"
    mode = "access"
    networks = ["core"]
    {core_rx}tx_pcap = "out-core.pcap"
    {extra_ports}"""
APP_H, CORE_H = "02:aa:00:00:01:10", "02:cc:00:00:00:fe"
DEFAULT_ROUTES = """
    [[l3_isolation_domains.static_routes]]
    prefix = "0.0.0.0/0"
    next_hop = "10.9.0.254"

    [[l3_isolation_domains.static_routes]]
    prefix = "::/0"
    next_hop = "2001:db8:9::fe"
"""


def dual_config(routes="", core_extra="", core_rx=False, extra_networks="", extra_ports=""):
    return (DUAL_CONFIG.replace("{routes}", routes).replace("{core_extra}", core_extra)
            .replace("{core_rx}", 'rx_pcap = "in-core.pcap"\n    ' if core_rx else "")
            .replace("{extra_networks}", extra_networks).replace("{extra_ports}", extra_ports))


@case("09-ttl")
def ttl():
    """TTL and hop limit: 1 and 0 are dropped ttl_expired, 2 is forwarded as 1; the route lookup comes first (TTL 1 to an unrouted destination is no_route, to a gateway address to_gateway)."""
    c = Case(dual_config(routes=DEFAULT_ROUTES.replace('"0.0.0.0/0"', '"198.51.100.0/24"')
                         .replace('"::/0"', '"2001:db8:100::/48"')))
    for t in [64, 2]:
        c.rx("app", eth(APP_H, P1) / udp4("10.1.0.10", "198.51.100.1", ttl=t), net="app",
             tx=[out("core", "core", eth(P2, CORE_H) / udp4("10.1.0.10", "198.51.100.1", ttl=t - 1))])
    for t in [1, 0]:
        c.rx("app", eth(APP_H, P1) / udp4("10.1.0.10", "198.51.100.1", ttl=t), net="app", drop="ttl_expired")
    c.rx("app", eth(APP_H, P1) / icmp4("10.1.0.10", "10.9.0.254", ttl=1), net="app", drop="ttl_expired")
    c.rx("app", eth(APP_H, P1) / tcp4("10.1.0.10", "10.9.0.254", ttl=2), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / tcp4("10.1.0.10", "10.9.0.254", ttl=1))])
    for h in [64, 2]:
        c.rx("app", eth(APP_H, P1) / udp6("2001:db8:1::10", "2001:db8:100::1", hlim=h), net="app",
             tx=[out("core", "core", eth(P2, CORE_H) / udp6("2001:db8:1::10", "2001:db8:100::1", hlim=h - 1))])
    for h in [1, 0]:
        c.rx("app", eth(APP_H, P1) / udp6("2001:db8:1::10", "2001:db8:100::1", hlim=h), net="app",
             drop="ttl_expired")
    c.rx("app", eth(APP_H, P1) / icmp6("2001:db8:1::10", "2001:db8:9::fe", hlim=1), net="app",
         drop="ttl_expired")
    # Route lookup before the TTL check.
    c.rx("app", eth(APP_H, P1) / udp4("10.1.0.10", "203.0.113.1", ttl=1), net="app", drop="no_route")
    c.rx("app", eth(APP_H, P1) / udp6("2001:db8:1::10", "2001:db8:200::1", hlim=1), net="app", drop="no_route")
    c.rx("app", eth(APP_H, P1) / icmp4("10.1.0.10", "10.1.0.1", ttl=1), net="app", drop="to_gateway")
    c.rx("app", eth(APP_H, P1) / icmp6("2001:db8:1::10", "2001:db8:1::1", hlim=1), net="app", drop="to_gateway")
    return c


@case("10-malformed")
def malformed():
    """Malformed frames are counted, never forwarded: truncated Ethernet, a frame cut inside a VLAN tag, IPv4 with IHL < 5, version != 4, total length beyond the frame or below the header, a cut header, a bad header checksum; IPv6 with version != 6, payload length beyond the frame, a cut header. A valid IPv4 packet with options (IHL 6) is forwarded with them."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, extra_networks="""
    [[l3_networks]]
    name = "tagged"
    vlan = 300
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "DualStack"
    ipv4_connected_prefix = "10.3.0.0/24"
    ipv6_connected_prefix = "2001:db8:3::/64"
    neighbors = [{ ip = "10.3.0.30", mac = "02:aa:00:00:03:30" }]

    [[trunked_networks]]
    name = "tn"
    vlans = [300]
""", extra_ports="""
    [[ports]]
    name = "trunk"
    backend = "pcap"
    mac = "02:00:00:00:03:01"
    mode = "trunk"
    trunked_network = "tn"
    rx_pcap = "in-trunk.pcap"
    tx_pcap = "out-trunk.pcap"
"""))
    E = eth(APP_H, P1)
    hdr = bytes(E)  # 14 bytes, EtherType IPv4
    c.rx("app", hdr[:13], drop="eth_truncated")
    c.rx("app", hdr[:6], drop="eth_truncated")
    c.rx("app", bytes(eth(APP_H, P1, type=0x8100)), drop="eth_truncated")       # 14 bytes, tag missing
    c.rx("app", bytes(eth(APP_H, P1, type=0x88A8)) + b"\x00", drop="eth_truncated")  # 15 bytes, half a tag
    good = udp4("10.1.0.10", "198.51.100.1")
    c.rx("app", E / good, net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4("10.1.0.10", "198.51.100.1", ttl=63))])
    c.rx("app", E / udp4("10.1.0.10", "198.51.100.1", ihl=4), net="app", drop="ip4_malformed")
    c.rx("app", E / udp4("10.1.0.10", "198.51.100.1", version=6), net="app", drop="ip4_malformed")
    c.rx("app", E / udp4("10.1.0.10", "198.51.100.1", len=200), net="app", drop="ip4_malformed")
    c.rx("app", E / udp4("10.1.0.10", "198.51.100.1", len=16), net="app", drop="ip4_malformed")
    c.rx("app", bytes(E / good)[:14 + 10], net="app", drop="ip4_malformed")   # header cut after 10 bytes
    # Options: IHL 6 and total length 44 (= 24 + 20) but only 40 bytes in the frame.
    c.rx("app", bytes(E / udp4("10.1.0.10", "198.51.100.1", options=[IPOption_Router_Alert()],
                               data=b"x" * 12))[:14 + 40], net="app", drop="ip4_malformed")
    c.rx("app", E / with_bad_ip4_checksum(good), net="app", drop="ip4_bad_checksum")
    c.rx("app", E / udp4("10.1.0.10", "198.51.100.1", options=[IPOption_Router_Alert()]), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4("10.1.0.10", "198.51.100.1", ttl=63,
                                                        options=[IPOption_Router_Alert()]))])
    good6 = udp6("2001:db8:1::10", "2001:db8:100::1")
    c.rx("app", E / good6, net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp6("2001:db8:1::10", "2001:db8:100::1", hlim=63))])
    c.rx("app", E / udp6("2001:db8:1::10", "2001:db8:100::1", plen=100), net="app", drop="ip6_malformed")
    c.rx("app", E / udp6("2001:db8:1::10", "2001:db8:100::1", version=4), net="app", drop="ip6_malformed")
    c.rx("app", bytes(E / good6)[:14 + 30], net="app", drop="ip6_malformed")
    # Malformed tagged frames on the trunk: the L2 header is 18 bytes there.
    HT = "02:aa:00:00:03:30"
    ok = udp4("10.3.0.30", "10.1.0.10", data=b"tagged")
    c.rx("trunk", eth(HT, P3, q(300)) / ok, net="tagged",
         tx=[out("app", "app", eth(P1, APP_H) / udp4("10.3.0.30", "10.1.0.10", ttl=63, data=b"tagged"))])
    # Total length = frame length - 14: would fit after an untagged header, not after the tag.
    n = len(ok) + 4
    c.rx("trunk", eth(HT, P3, q(300)) / udp4("10.3.0.30", "10.1.0.10", data=b"tagged", len=n), net="tagged",
         drop="ip4_malformed")
    c.rx("trunk", eth(HT, P3, q(300)) / with_bad_ip4_checksum(ok), net="tagged", drop="ip4_bad_checksum")
    c.rx("trunk", bytes(eth(HT, P3, q(300)) / ok)[:15], drop="eth_truncated")  # cut inside the tag
    c.rx("trunk", bytes(eth(HT, P3, q(300)) / udp6("2001:db8:3::30", "2001:db8:1::10"))[:18 + 39], net="tagged",
         drop="ip6_malformed")
    return c


@case("11-no-route")
def no_route():
    """A VRF without a default route: destinations outside its connected prefixes and static routes are dropped no_route (IPv4 and IPv6), while connected and statically routed destinations are forwarded."""
    c = Case(dual_config(routes="""
    [[l3_isolation_domains.static_routes]]
    prefix = "172.16.0.0/12"
    next_hop = "10.9.0.254"

    [[l3_isolation_domains.static_routes]]
    prefix = "2001:db8:100::/48"
    next_hop = "2001:db8:9::fe"
""", core_rx=True))
    A6 = "2001:db8:1::10"
    c.rx("app", eth(APP_H, P1) / udp4("10.1.0.10", "172.20.1.1"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4("10.1.0.10", "172.20.1.1", ttl=63))])
    for dst in ["8.8.8.8", "172.32.0.1", "10.9.1.254", "10.2.0.1", "255.255.255.255"]:
        c.rx("app", eth(APP_H, P1) / udp4("10.1.0.10", dst), net="app", drop="no_route")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:100:1::1"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp6(A6, "2001:db8:100:1::1", hlim=63))])
    for dst in ["2001:4860:4860::8888", "2001:db8:101::1", "2001:db8:9:1::fe"]:
        c.rx("app", eth(APP_H, P1) / udp6(A6, dst), net="app", drop="no_route")
    c.rx("core", eth(CORE_H, P2) / udp4("172.20.1.1", "10.1.0.10"), net="core",
         tx=[out("app", "app", eth(P1, APP_H) / udp4("172.20.1.1", "10.1.0.10", ttl=63))])
    c.rx("core", eth(CORE_H, P2) / udp4("172.20.1.1", "192.168.1.1"), net="core", drop="no_route")
    c.rx("core", eth(CORE_H, P2) / udp6("2001:db8:100:1::1", "2001:db8:2::10"), net="core", drop="no_route")
    return c


@case("12-l3-mtu")
def l3_mtu():
    """Egress network MTU 1400 on a trunk: IP packets of exactly 1400 bytes are forwarded (the tag and Ethernet padding do not count), 1401 bytes and more are dropped mtu_exceeded, IPv4 and IPv6; TTL expiry is checked before MTU, MTU before the neighbour."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_isolation_domains.static_routes]]
        prefix = "0.0.0.0/0"
        next_hop = "10.9.0.254"

        [[l3_isolation_domains.static_routes]]
        prefix = "::/0"
        next_hop = "2001:db8:9::fe"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.1.0.0/24"
        ipv6_connected_prefix = "2001:db8:1::/64"
        mtu = 1500
        neighbors = [
          { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
          { ip = "2001:db8:1::10", mac = "02:aa:00:00:01:10" },
        ]

        [[l3_networks]]
        name = "core"
        vlan = 400
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.9.0.0/24"
        ipv6_connected_prefix = "2001:db8:9::/64"
        mtu = 1400
        neighbors = [
          { ip = "10.9.0.254", mac = "02:cc:00:00:00:fe" },
          { ip = "2001:db8:9::fe", mac = "02:cc:00:00:00:fe" },
        ]

        [[trunked_networks]]
        name = "uplink-trunk"
        vlans = [400]

        [[ports]]
        name = "app"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["app"]
        rx_pcap = "in-app.pcap"
        tx_pcap = "out-app.pcap"

        [[ports]]
        name = "uplink"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "trunk"
        trunked_network = "uplink-trunk"
        rx_pcap = "in-uplink.pcap"
        tx_pcap = "out-uplink.pcap"
    """)
    A, A6, D, D6 = "10.1.0.10", "2001:db8:1::10", "198.51.100.1", "2001:db8:100::1"
    for n in [1400, 1399]:
        c.rx("app", eth(APP_H, P1) / big_udp4(A, D, n), net="app",
             tx=[out("uplink", "core", eth(P2, CORE_H, q(400)) / big_udp4(A, D, n, ttl=63))])
    for n in [1401, 1500]:
        c.rx("app", eth(APP_H, P1) / big_udp4(A, D, n), net="app", drop="mtu_exceeded")
    for n in [1400, 1280]:
        c.rx("app", eth(APP_H, P1) / big_udp6(A6, D6, n), net="app",
             tx=[out("uplink", "core", eth(P2, CORE_H, q(400)) / big_udp6(A6, D6, n, hlim=63))])
    for n in [1401, 1500]:
        c.rx("app", eth(APP_H, P1) / big_udp6(A6, D6, n), net="app", drop="mtu_exceeded")
    # 1400-byte IP packet followed by 20 bytes of padding: still fits.
    fill = pad(20)
    c.rx("app", eth(APP_H, P1) / big_udp4(A, D, 1400) / fill, net="app",
         tx=[out("uplink", "core", eth(P2, CORE_H, q(400)) / big_udp4(A, D, 1400, ttl=63) / fill)])
    # Order of the checks: TTL before MTU; MTU before the neighbour lookup.
    c.rx("app", eth(APP_H, P1) / big_udp4(A, D, 1401, ttl=1), net="app", drop="ttl_expired")
    c.rx("app", eth(APP_H, P1) / big_udp4(A, "10.9.0.77", 1401), net="app", drop="mtu_exceeded")
    c.rx("app", eth(APP_H, P1) / big_udp4(A, "10.9.0.77", 1400), net="app", drop="neighbor_miss")
    # The other way, into the MTU 1500 network: 1500 bytes fit there.
    c.rx("uplink", eth(CORE_H, P2, q(400)) / big_udp4(D, A, 1400), net="core",
         tx=[out("app", "app", eth(P1, APP_H) / big_udp4(D, A, 1400, ttl=63))])
    c.rx("uplink", eth(CORE_H, P2, q(400)) / big_udp6(D6, A6, 1400), net="core",
         tx=[out("app", "app", eth(P1, APP_H) / big_udp6(D6, A6, 1400, hlim=63))])
    return c


@case("13-longest-prefix")
def longest_prefix():
    """Longest-prefix match: /0, /8, /16, /24 and /32 IPv4 routes and /32, /48, /64, /128 IPv6 routes via different next hops; each destination leaves towards the next hop of its most specific route, and a static /25 inside a connected /24 wins over the connected route."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_isolation_domains.static_routes]]
        prefix = "0.0.0.0/0"
        next_hop = "192.168.0.10"

        [[l3_isolation_domains.static_routes]]
        prefix = "10.0.0.0/8"
        next_hop = "192.168.0.11"

        [[l3_isolation_domains.static_routes]]
        prefix = "10.20.0.0/16"
        next_hop = "192.168.0.12"

        [[l3_isolation_domains.static_routes]]
        prefix = "10.20.30.0/24"
        next_hop = "192.168.0.13"

        [[l3_isolation_domains.static_routes]]
        prefix = "10.20.30.40/32"
        next_hop = "192.168.0.14"

        [[l3_isolation_domains.static_routes]]
        prefix = "10.1.0.128/25"
        next_hop = "192.168.0.15"

        [[l3_isolation_domains.static_routes]]
        prefix = "2001:db8::/32"
        next_hop = "2001:db8:c0::11"

        [[l3_isolation_domains.static_routes]]
        prefix = "2001:db8:aa::/48"
        next_hop = "2001:db8:c0::12"

        [[l3_isolation_domains.static_routes]]
        prefix = "2001:db8:aa:bb::/64"
        next_hop = "2001:db8:c0::13"

        [[l3_isolation_domains.static_routes]]
        prefix = "2001:db8:aa:bb::40/128"
        next_hop = "2001:db8:c0::14"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.1.0.0/24"
        ipv6_connected_prefix = "2001:db8:1::/64"
        neighbors = [
          { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
          { ip = "10.1.0.200", mac = "02:aa:00:00:01:c8" },
        ]

        [[l3_networks]]
        name = "core"
        vlan = 200
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "192.168.0.0/24"
        ipv6_connected_prefix = "2001:db8:c0::/64"
        neighbors = [
          { ip = "192.168.0.10", mac = "02:cc:00:00:00:10" },
          { ip = "192.168.0.11", mac = "02:cc:00:00:00:11" },
          { ip = "192.168.0.12", mac = "02:cc:00:00:00:12" },
          { ip = "192.168.0.13", mac = "02:cc:00:00:00:13" },
          { ip = "192.168.0.14", mac = "02:cc:00:00:00:14" },
          { ip = "192.168.0.15", mac = "02:cc:00:00:00:15" },
          { ip = "2001:db8:c0::11", mac = "02:cc:00:00:06:11" },
          { ip = "2001:db8:c0::12", mac = "02:cc:00:00:06:12" },
          { ip = "2001:db8:c0::13", mac = "02:cc:00:00:06:13" },
          { ip = "2001:db8:c0::14", mac = "02:cc:00:00:06:14" },
        ]

        [[ports]]
        name = "app"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["app"]
        rx_pcap = "in-app.pcap"
        tx_pcap = "out-app.pcap"

        [[ports]]
        name = "core"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["core"]
        tx_pcap = "out-core.pcap"
    """)
    v4 = [  # destination, MAC of the next hop of its longest match
        ("11.0.0.1", "02:cc:00:00:00:10"),      # /0
        ("10.99.1.1", "02:cc:00:00:00:11"),     # /8
        ("10.20.99.1", "02:cc:00:00:00:12"),    # /16
        ("10.20.30.99", "02:cc:00:00:00:13"),   # /24
        ("10.20.30.40", "02:cc:00:00:00:14"),   # /32
        ("10.20.30.41", "02:cc:00:00:00:13"),   # /24 next to the /32
        ("10.21.0.1", "02:cc:00:00:00:11"),     # /8 next to the /16
        ("10.1.0.200", "02:cc:00:00:00:15"),    # static /25 beats connected /24
        ("10.255.255.255", "02:cc:00:00:00:11"),  # /8
    ]
    for dst, nh in v4:
        c.rx("app", eth(APP_H, P1) / udp4("10.1.0.10", dst), net="app",
             tx=[out("core", "core", eth(P2, nh) / udp4("10.1.0.10", dst, ttl=63))])
    # 10.1.0.10 is in the connected /24, outside the static /25: connected route.
    c.rx("app", eth(APP_H, P1) / udp4("10.1.0.200", "10.1.0.10"), net="app",
         tx=[out("app", "app", eth(P1, APP_H) / udp4("10.1.0.200", "10.1.0.10", ttl=63))])
    v6 = [
        ("2001:db8:ff::1", "02:cc:00:00:06:11"),       # /32
        ("2001:db8:aa:1::1", "02:cc:00:00:06:12"),     # /48
        ("2001:db8:aa:bb::41", "02:cc:00:00:06:13"),   # /64
        ("2001:db8:aa:bb::40", "02:cc:00:00:06:14"),   # /128
        ("2001:db8:ab::1", "02:cc:00:00:06:11"),       # /32 next to the /48
    ]
    for dst, nh in v6:
        c.rx("app", eth(APP_H, P1) / udp6("2001:db8:1::10", dst), net="app",
             tx=[out("core", "core", eth(P2, nh) / udp6("2001:db8:1::10", dst, hlim=63))])
    c.rx("app", eth(APP_H, P1) / udp6("2001:db8:1::10", "2001:db9::1"), net="app", drop="no_route")
    return c


@case("14-static-next-hop")
def static_next_hop():
    """Static routes: a route with only next_hop leaves on the connected network holding the next hop, with the next hop's MAC; a route with only network uses the destination itself as the next hop (its MAC from that network's neighbours); a route with both uses next_hop on that network."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_isolation_domains.static_routes]]
        prefix = "172.16.0.0/16"
        next_hop = "10.9.0.254"

        [[l3_isolation_domains.static_routes]]
        prefix = "172.17.0.0/24"
        network = "dmz"

        [[l3_isolation_domains.static_routes]]
        prefix = "172.18.0.0/16"
        next_hop = "10.50.0.254"
        network = "dmz"

        [[l3_isolation_domains.static_routes]]
        prefix = "2001:db8:172::/48"
        next_hop = "2001:db8:9::fe"

        [[l3_isolation_domains.static_routes]]
        prefix = "2001:db8:173::/64"
        network = "dmz"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.1.0.0/24"
        ipv6_connected_prefix = "2001:db8:1::/64"
        neighbors = [
          { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
          { ip = "2001:db8:1::10", mac = "02:aa:00:00:01:10" },
        ]

        [[l3_networks]]
        name = "core"
        vlan = 200
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.9.0.0/24"
        ipv6_connected_prefix = "2001:db8:9::/64"
        neighbors = [
          { ip = "10.9.0.254", mac = "02:cc:00:00:00:fe" },
          { ip = "2001:db8:9::fe", mac = "02:cc:00:00:06:fe" },
        ]

        [[l3_networks]]
        name = "dmz"
        vlan = 300
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.50.0.0/24"
        ipv6_connected_prefix = "2001:db8:50::/64"
        neighbors = [
          { ip = "10.50.0.254", mac = "02:dd:00:00:00:fe" },
          { ip = "172.17.0.5", mac = "02:dd:00:00:17:05" },
          { ip = "172.17.0.6", mac = "02:dd:00:00:17:06" },
          { ip = "2001:db8:173::5", mac = "02:dd:00:00:06:05" },
        ]

        [[ports]]
        name = "app"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["app"]
        rx_pcap = "in-app.pcap"
        tx_pcap = "out-app.pcap"

        [[ports]]
        name = "core"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["core"]
        tx_pcap = "out-core.pcap"

        [[ports]]
        name = "dmz"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "access"
        networks = ["dmz"]
        tx_pcap = "out-dmz.pcap"
    """)
    A, A6 = "10.1.0.10", "2001:db8:1::10"
    R4, R6 = "02:cc:00:00:00:fe", "02:cc:00:00:06:fe"
    # next_hop only: egress network = connected network holding 10.9.0.254 (core).
    for dst in ["172.16.0.1", "172.16.200.9"]:
        c.rx("app", eth(APP_H, P1) / udp4(A, dst), net="app",
             tx=[out("core", "core", eth(P2, R4) / udp4(A, dst, ttl=63))])
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:172:1::1"), net="app",
         tx=[out("core", "core", eth(P2, R6) / udp6(A6, "2001:db8:172:1::1", hlim=63))])
    # network only: the destination is the next hop, looked up in dmz's neighbours.
    for dst, mac in [("172.17.0.5", "02:dd:00:00:17:05"), ("172.17.0.6", "02:dd:00:00:17:06")]:
        c.rx("app", eth(APP_H, P1) / tcp4(A, dst), net="app",
             tx=[out("dmz", "dmz", eth(P3, mac) / tcp4(A, dst, ttl=63))])
    c.rx("app", eth(APP_H, P1) / udp4(A, "172.17.0.7"), net="app", drop="neighbor_miss")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:173::5"), net="app",
         tx=[out("dmz", "dmz", eth(P3, "02:dd:00:00:06:05") / udp6(A6, "2001:db8:173::5", hlim=63))])
    # next_hop and network: next hop 10.50.0.254 on dmz.
    c.rx("app", eth(APP_H, P1) / udp4(A, "172.18.3.4"), net="app",
         tx=[out("dmz", "dmz", eth(P3, "02:dd:00:00:00:fe") / udp4(A, "172.18.3.4", ttl=63))])
    c.rx("app", eth(APP_H, P1) / udp4(A, "172.19.0.1"), net="app", drop="no_route")
    return c


@case("15-to-gateway")
def to_gateway():
    """Packets to a gateway address of the VRF are dropped to_gateway: the default gateway (first host of the prefix, 10.1.0.1 and 2001:db8:1::1) of the ingress network, explicit ipv4_gateway/ipv6_gateway of another network (where .1 is then an ordinary host); a gateway address of another VRF is routed normally."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_isolation_domains.static_routes]]
        prefix = "0.0.0.0/0"
        next_hop = "10.9.0.1"

        [[l3_isolation_domains]]
        name = "other"

        [[l3_isolation_domains.static_routes]]
        prefix = "0.0.0.0/0"
        next_hop = "10.8.0.254"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.1.0.0/24"
        ipv6_connected_prefix = "2001:db8:1::/64"
        neighbors = [
          { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
          { ip = "2001:db8:1::10", mac = "02:aa:00:00:01:10" },
        ]

        [[l3_networks]]
        name = "core"
        vlan = 200
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.9.0.0/24"
        ipv6_connected_prefix = "2001:db8:9::/64"
        ipv4_gateway = "10.9.0.254"
        ipv6_gateway = "2001:db8:9::fe"
        neighbors = [
          { ip = "10.9.0.1", mac = "02:cc:00:00:00:01" },
          { ip = "2001:db8:9::1", mac = "02:cc:00:00:00:01" },
        ]

        [[l3_networks]]
        name = "ext"
        vlan = 300
        l3_isolation_domain = "other"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.7.0.0/24"
        neighbors = [{ ip = "10.7.0.10", mac = "02:ee:00:00:07:10" }]

        [[l3_networks]]
        name = "ext-up"
        vlan = 310
        l3_isolation_domain = "other"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.8.0.0/24"
        neighbors = [{ ip = "10.8.0.254", mac = "02:ee:00:00:08:fe" }]

        [[ports]]
        name = "app"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["app"]
        rx_pcap = "in-app.pcap"
        tx_pcap = "out-app.pcap"

        [[ports]]
        name = "core"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["core"]
        tx_pcap = "out-core.pcap"

        [[ports]]
        name = "ext"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "access"
        networks = ["ext"]
        rx_pcap = "in-ext.pcap"
        tx_pcap = "out-ext.pcap"

        [[ports]]
        name = "ext-up"
        backend = "pcap"
        mac = "02:00:00:00:04:01"
        mode = "access"
        networks = ["ext-up"]
        tx_pcap = "out-ext-up.pcap"
    """)
    A, A6, R = "10.1.0.10", "2001:db8:1::10", "02:cc:00:00:00:01"
    c.rx("app", eth(APP_H, P1) / icmp4(A, "10.1.0.1"), net="app", drop="to_gateway")
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.1.0.1", dport=53), net="app", drop="to_gateway")
    c.rx("app", eth(APP_H, P1) / icmp6(A6, "2001:db8:1::1"), net="app", drop="to_gateway")
    c.rx("app", eth(APP_H, P1) / icmp4(A, "10.9.0.254"), net="app", drop="to_gateway")
    c.rx("app", eth(APP_H, P1) / tcp4(A, "10.9.0.254", dport=22), net="app", drop="to_gateway")
    c.rx("app", eth(APP_H, P1) / icmp6(A6, "2001:db8:9::fe"), net="app", drop="to_gateway")
    c.rx("app", eth(APP_H, P1) / icmp4(A, "10.1.0.1", ttl=1), net="app", drop="to_gateway")
    # With an explicit gateway, the first host of core is an ordinary neighbour.
    c.rx("app", eth(APP_H, P1) / icmp4(A, "10.9.0.1"), net="app",
         tx=[out("core", "core", eth(P2, R) / icmp4(A, "10.9.0.1", ttl=63))])
    c.rx("app", eth(APP_H, P1) / icmp6(A6, "2001:db8:9::1"), net="app",
         tx=[out("core", "core", eth(P2, R) / icmp6(A6, "2001:db8:9::1", hlim=63))])
    c.rx("app", eth(APP_H, P1) / udp4(A, "198.51.100.1"), net="app",
         tx=[out("core", "core", eth(P2, R) / udp4(A, "198.51.100.1", ttl=63))])
    # VRF "other": its own default gateways are 10.7.0.1 and 10.8.0.1; 10.1.0.1
    # and 10.9.0.254 are ordinary destinations there (default route).
    EH, UP = "02:ee:00:00:07:10", "02:ee:00:00:08:fe"
    c.rx("ext", eth(EH, P3) / icmp4("10.7.0.10", "10.7.0.1"), net="ext", drop="to_gateway")
    c.rx("ext", eth(EH, P3) / icmp4("10.7.0.10", "10.8.0.1"), net="ext", drop="to_gateway")
    for dst in ["10.1.0.1", "10.9.0.254"]:
        c.rx("ext", eth(EH, P3) / icmp4("10.7.0.10", dst), net="ext",
             tx=[out("ext-up", "ext-up", eth(P4, UP) / icmp4("10.7.0.10", dst, ttl=63))])
    return c


@case("16-neighbor-miss")
def neighbor_miss():
    """Neighbour misses: a connected destination without a static neighbour, a static route whose next hop has no neighbour, and an address that is a neighbour only of another network are dropped neighbor_miss (IPv4 and IPv6); known neighbours are forwarded."""
    c = Case(dual_config(routes="""
    [[l3_isolation_domains.static_routes]]
    prefix = "198.51.100.0/24"
    next_hop = "10.9.0.254"

    [[l3_isolation_domains.static_routes]]
    prefix = "203.0.113.0/24"
    next_hop = "10.9.0.253"

    [[l3_isolation_domains.static_routes]]
    prefix = "2001:db8:200::/48"
    next_hop = "2001:db8:9::fd"
""", core_rx=True))
    A, A6 = "10.1.0.10", "2001:db8:1::10"
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.9.0.254"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4(A, "10.9.0.254", ttl=63))])
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.9.0.20"), net="app", drop="neighbor_miss")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:9::20"), net="app", drop="neighbor_miss")
    c.rx("app", eth(APP_H, P1) / udp4(A, "198.51.100.1"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4(A, "198.51.100.1", ttl=63))])
    c.rx("app", eth(APP_H, P1) / udp4(A, "203.0.113.1"), net="app", drop="neighbor_miss")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:200::1"), net="app", drop="neighbor_miss")
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.1.0.11"), net="app", drop="neighbor_miss")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:9::fe"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp6(A6, "2001:db8:9::fe", hlim=63))])
    # From core: 10.9.0.10 is connected to core itself (hairpin), not a neighbour there.
    c.rx("core", eth(CORE_H, P2) / udp4("198.51.100.1", "10.1.0.10"), net="core",
         tx=[out("app", "app", eth(P1, APP_H) / udp4("198.51.100.1", "10.1.0.10", ttl=63))])
    c.rx("core", eth(CORE_H, P2) / udp4("198.51.100.1", "10.9.0.10"), net="core", drop="neighbor_miss")
    c.rx("core", eth(CORE_H, P2) / udp6("2001:db8:9::fe", "2001:db8:1::99"), net="core", drop="neighbor_miss")
    return c


@case("17-l3-not-for-us")
def l3_not_for_us():
    """Frames an L3 network does not route: ARP (broadcast or unicast, any MAC) is dropped arp; non-IP EtherTypes (LLDP to its multicast MAC or to the port's MAC, 802.3 length frames) not_ip; broadcast/multicast destination MACs l3_multicast; unicast MACs other than the port's l3_mac_mismatch, with the checks in README order."""
    c = Case(dual_config(routes=DEFAULT_ROUTES))
    A, A6 = "10.1.0.10", "2001:db8:1::10"
    OTHER = "02:00:00:00:09:09"
    c.rx("app", eth(APP_H, BCAST) / ARP(hwsrc=APP_H, psrc=A, pdst="10.1.0.1"), net="app", drop="arp")
    c.rx("app", eth(APP_H, P1) / ARP(op=2, hwsrc=APP_H, psrc=A, hwdst=P1, pdst="10.1.0.1"), net="app",
         drop="arp")
    c.rx("app", eth(APP_H, OTHER) / ARP(op=2, hwsrc=APP_H, psrc=A, hwdst=OTHER, pdst="10.1.0.20"), net="app",
         drop="arp")
    lldp = b"\x02\x07\x04" + bytes.fromhex("02aa00000110") + b"\x04\x02\x07\x31\x06\x02\x00\x78\x00\x00"
    c.rx("app", eth(APP_H, "01:80:c2:00:00:0e", type=0x88CC) / Raw(lldp), net="app", drop="not_ip")
    c.rx("app", eth(APP_H, P1, type=0x88CC) / Raw(lldp), net="app", drop="not_ip")
    c.rx("app", eth(APP_H, P1, type=0x0026) / Raw(b"\x42\x42\x03" + bytes(35)), net="app", drop="not_ip")
    c.rx("app", eth(APP_H, P1, type=0x8137) / Raw(bytes(46)), net="app", drop="not_ip")
    c.rx("app", eth(APP_H, BCAST) / udp4(A, "10.1.0.255", sport=68, dport=67), net="app", drop="l3_multicast")
    c.rx("app", eth(APP_H, BCAST) / udp4(A, "198.51.100.1"), net="app", drop="l3_multicast")
    c.rx("app", eth(APP_H, "01:00:5e:00:00:fb") / udp4(A, "224.0.0.251", ttl=255, sport=5353, dport=5353),
         net="app", drop="l3_multicast")
    c.rx("app", eth(APP_H, "33:33:00:00:00:01") / icmp6(A6, "ff02::1"), net="app", drop="l3_multicast")
    c.rx("app", eth(APP_H, "33:33:ff:00:00:01") / IPv6(src=A6, dst="ff02::1:ff00:1", hlim=255)
         / ICMPv6ND_NS(tgt="2001:db8:1::1") / ICMPv6NDOptSrcLLAddr(lladdr=APP_H), net="app", drop="l3_multicast")
    # Destination MAC checks come before IP validation.
    c.rx("app", eth(APP_H, BCAST) / udp4(A, "198.51.100.1", ihl=4), net="app", drop="l3_multicast")
    c.rx("app", eth(APP_H, OTHER) / with_bad_ip4_checksum(udp4(A, "198.51.100.1")), net="app",
         drop="l3_mac_mismatch")
    c.rx("app", eth(APP_H, OTHER) / udp4(A, "198.51.100.1"), net="app", drop="l3_mac_mismatch")
    c.rx("app", eth(APP_H, P2) / udp4(A, "198.51.100.1"), net="app", drop="l3_mac_mismatch")
    c.rx("app", eth(APP_H, OTHER) / udp6(A6, "2001:db8:100::1"), net="app", drop="l3_mac_mismatch")
    c.rx("app", eth(APP_H, P1) / udp4(A, "198.51.100.1"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4(A, "198.51.100.1", ttl=63))])
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:100::1"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp6(A6, "2001:db8:100::1", hlim=63))])
    return c


@case("18-l2-bridging")
def l2_bridging():
    """L2 bridging on one network over a trunk and two access ports: source MACs learned, known unicast sent to its port only, broadcast/multicast/unknown unicast flooded to the other ports (tag added on the trunk, removed on access ports), a destination learned on the ingress port dropped l2_same_port, and a one-port L2 network dropping l2_no_egress."""
    c = Case("""
        [[l2_networks]]
        name = "lan"
        vlan = 300
        mtu = 1500

        [[l2_networks]]
        name = "solo"
        vlan = 301
        mtu = 1500

        [[trunked_networks]]
        name = "tn"
        vlans = [300, 301]

        [[ports]]
        name = "trunk"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "trunk"
        trunked_network = "tn"
        rx_pcap = "in-trunk.pcap"
        tx_pcap = "out-trunk.pcap"

        [[ports]]
        name = "acc1"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["lan"]
        rx_pcap = "in-acc1.pcap"
        tx_pcap = "out-acc1.pcap"

        [[ports]]
        name = "acc2"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "access"
        networks = ["lan"]
        rx_pcap = "in-acc2.pcap"
        tx_pcap = "out-acc2.pcap"
    """)
    T1, T2, T3 = "02:70:00:00:00:01", "02:70:00:00:00:02", "02:70:00:00:00:03"
    A1, A1b = "02:a1:00:00:00:01", "02:a1:00:00:00:0b"
    A2, A2b = "02:a2:00:00:00:01", "02:a2:00:00:00:0b"
    MC = "01:00:5e:01:02:03"

    def arp_req(src_mac, src_ip, dst_ip):
        return ARP(hwsrc=src_mac, psrc=src_ip, pdst=dst_ip)

    # All trunk frames are processed first (config order, one burst), then acc1's, then acc2's.
    # t1: broadcast from T1 -> flooded to acc1 and acc2 untagged (64-byte tagged -> 60 bytes).
    f = eth(T1, BCAST, q(300)) / arp_req(T1, "192.168.30.1", "192.168.30.2") / pad(18, seed=0)
    g = eth(T1, BCAST) / arp_req(T1, "192.168.30.1", "192.168.30.2") / pad(18, seed=0)
    assert (len(f), len(g)) == (64, 60)
    c.rx("trunk", f, net="lan", tx=[out("acc1", "lan", g), out("acc2", "lan", g)])
    # t2: unknown unicast from T2 -> flooded.
    c.rx("trunk", l2data(T2, A1, q(300), data=b"to A1, unknown yet"), net="lan",
         tx=[out("acc1", "lan", l2data(T2, A1, data=b"to A1, unknown yet")),
             out("acc2", "lan", l2data(T2, A1, data=b"to A1, unknown yet"))])
    # t3: T1 -> T2, both learned on the trunk.
    c.rx("trunk", l2data(T1, T2, q(300), data=b"same port"), net="lan", drop="l2_same_port")
    # t4: multicast -> flooded.
    c.rx("trunk", eth(T1, MC, q(300)) / udp4("192.168.30.1", "239.1.2.3", dport=9999), net="lan",
         tx=[out("acc1", "lan", eth(T1, MC) / udp4("192.168.30.1", "239.1.2.3", dport=9999)),
             out("acc2", "lan", eth(T1, MC) / udp4("192.168.30.1", "239.1.2.3", dport=9999))])
    # t5, t6: the one-port network.
    c.rx("trunk", l2data(T3, BCAST, q(301), data=b"alone"), net="solo", drop="l2_no_egress")
    c.rx("trunk", l2data(T3, T1, q(301), data=b"alone, unicast"), net="solo", drop="l2_no_egress")

    # a1: A1 -> T1 (learned on the trunk): to the trunk only, tagged (60 -> 64 bytes).
    f = l2data(A1, T1, data=b"A1 to T1")
    g = l2data(A1, T1, q(300), data=b"A1 to T1")
    assert (len(f), len(g)) == (60, 64)
    c.rx("acc1", f, net="lan", tx=[out("trunk", "lan", g)])
    # a2: broadcast from A1 -> trunk (tagged) and acc2.
    c.rx("acc1", eth(A1, BCAST) / arp_req(A1, "192.168.30.11", "192.168.30.1"), net="lan",
         tx=[out("trunk", "lan", eth(A1, BCAST, q(300)) / arp_req(A1, "192.168.30.11", "192.168.30.1")),
             out("acc2", "lan", eth(A1, BCAST) / arp_req(A1, "192.168.30.11", "192.168.30.1"))])
    # a3: A1b -> A1, A1 learned on acc1.
    c.rx("acc1", l2data(A1b, A1, data=b"same port"), net="lan", drop="l2_same_port")
    # a4: A1 -> A2, not learned yet (acc2 not polled yet): flooded.
    c.rx("acc1", l2data(A1, A2, data=b"A1 to A2"), net="lan",
         tx=[out("trunk", "lan", l2data(A1, A2, q(300), data=b"A1 to A2")),
             out("acc2", "lan", l2data(A1, A2, data=b"A1 to A2"))])
    # a5: A1 -> T2 (learned on the trunk from t2).
    c.rx("acc1", eth(A1, T2) / udp4("192.168.30.11", "192.168.30.2"), net="lan",
         tx=[out("trunk", "lan", eth(A1, T2, q(300)) / udp4("192.168.30.11", "192.168.30.2"))])

    # b1: A2 -> A1 (learned on acc1).
    c.rx("acc2", l2data(A2, A1, data=b"A2 to A1"), net="lan",
         tx=[out("acc1", "lan", l2data(A2, A1, data=b"A2 to A1"))])
    # b2: A2 -> T2.
    c.rx("acc2", l2data(A2, T2, data=b"A2 to T2"), net="lan",
         tx=[out("trunk", "lan", l2data(A2, T2, q(300), data=b"A2 to T2"))])
    # b3: A2 -> A2b, unknown: flooded to trunk and acc1.
    c.rx("acc2", l2data(A2, A2b, data=b"A2 to A2b"), net="lan",
         tx=[out("trunk", "lan", l2data(A2, A2b, q(300), data=b"A2 to A2b")),
             out("acc1", "lan", l2data(A2, A2b, data=b"A2 to A2b"))])
    # b4: A2b -> A2, A2 learned on acc2.
    c.rx("acc2", l2data(A2b, A2, data=b"same port"), net="lan", drop="l2_same_port")
    # b5: IPv4 broadcast from A2.
    c.rx("acc2", eth(A2, BCAST) / udp4("192.168.30.12", "255.255.255.255", dport=9), net="lan",
         tx=[out("trunk", "lan", eth(A2, BCAST, q(300)) / udp4("192.168.30.12", "255.255.255.255", dport=9)),
             out("acc1", "lan", eth(A2, BCAST) / udp4("192.168.30.12", "255.255.255.255", dport=9))])
    # b6: tagged frame on an access port of an L2 network.
    c.rx("acc2", l2data(A2, A1, q(300)), drop="tagged_on_access")
    return c


@case("19-route-leak")
def route_leak():
    """Route leaking between VRFs: a static route with network = a network of another VRF reaches it (next hop = destination, neighbour of that network), in both directions; a VRF without such a route gets no_route for the same destination, and a leaked /32 only leaks that address."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf-a"

        [[l3_isolation_domains.static_routes]]
        prefix = "10.200.0.0/24"
        network = "shared"

        [[l3_isolation_domains]]
        name = "vrf-b"

        [[l3_isolation_domains.static_routes]]
        prefix = "10.1.0.0/24"
        network = "app-a"

        [[l3_isolation_domains.static_routes]]
        prefix = "10.3.0.0/24"
        network = "app-c"

        [[l3_isolation_domains]]
        name = "vrf-c"

        [[l3_isolation_domains.static_routes]]
        prefix = "10.200.0.6/32"
        network = "shared"

        [[l3_networks]]
        name = "app-a"
        vlan = 100
        l3_isolation_domain = "vrf-a"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.1.0.0/24"
        neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }]

        [[l3_networks]]
        name = "shared"
        vlan = 200
        l3_isolation_domain = "vrf-b"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.200.0.0/24"
        neighbors = [
          { ip = "10.200.0.5", mac = "02:bb:00:00:00:05" },
          { ip = "10.200.0.6", mac = "02:bb:00:00:00:06" },
        ]

        [[l3_networks]]
        name = "app-c"
        vlan = 300
        l3_isolation_domain = "vrf-c"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.3.0.0/24"
        neighbors = [{ ip = "10.3.0.30", mac = "02:cc:00:00:03:30" }]

        [[ports]]
        name = "a"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["app-a"]
        rx_pcap = "in-a.pcap"
        tx_pcap = "out-a.pcap"

        [[ports]]
        name = "shared"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["shared"]
        rx_pcap = "in-shared.pcap"
        tx_pcap = "out-shared.pcap"

        [[ports]]
        name = "c"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "access"
        networks = ["app-c"]
        rx_pcap = "in-c.pcap"
        tx_pcap = "out-c.pcap"
    """)
    HA, HC = "02:aa:00:00:01:10", "02:cc:00:00:03:30"
    S5, S6 = "02:bb:00:00:00:05", "02:bb:00:00:00:06"
    for dst, mac in [("10.200.0.5", S5), ("10.200.0.6", S6)]:
        c.rx("a", eth(HA, P1) / udp4("10.1.0.10", dst), net="app-a",
             tx=[out("shared", "shared", eth(P2, mac) / udp4("10.1.0.10", dst, ttl=63))])
    c.rx("a", eth(HA, P1) / udp4("10.1.0.10", "10.200.0.7"), net="app-a", drop="neighbor_miss")
    c.rx("a", eth(HA, P1) / udp4("10.1.0.10", "10.3.0.30"), net="app-a", drop="no_route")
    c.rx("shared", eth(S5, P2) / udp4("10.200.0.5", "10.1.0.10", sport=5000, dport=40000), net="shared",
         tx=[out("a", "app-a", eth(P1, HA) / udp4("10.200.0.5", "10.1.0.10", ttl=63, sport=5000, dport=40000))])
    c.rx("shared", eth(S6, P2) / udp4("10.200.0.6", "10.3.0.30", sport=5000, dport=40000), net="shared",
         tx=[out("c", "app-c", eth(P3, HC) / udp4("10.200.0.6", "10.3.0.30", ttl=63, sport=5000, dport=40000))])
    c.rx("shared", eth(S5, P2) / udp4("10.200.0.5", "10.2.0.1"), net="shared", drop="no_route")
    c.rx("c", eth(HC, P3) / udp4("10.3.0.30", "10.200.0.6"), net="app-c",
         tx=[out("shared", "shared", eth(P2, S6) / udp4("10.3.0.30", "10.200.0.6", ttl=63))])
    c.rx("c", eth(HC, P3) / udp4("10.3.0.30", "10.200.0.5"), net="app-c", drop="no_route")
    c.rx("c", eth(HC, P3) / udp4("10.3.0.30", "10.1.0.10"), net="app-c", drop="no_route")
    return c


@case("20-dual-stack-mix")
def dual_stack_mix():
    """Mixed IPv4/IPv6 traffic on a dual-stack trunk (TCP, UDP, ICMP echo, ICMPv6 echo) to an access port and hairpinned to another VLAN of the trunk, and back; padded minimum-size frames keep their padding; L4 checksums (even wrong or zero) and IPv4 fragments are forwarded untouched."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_isolation_domains.static_routes]]
        prefix = "0.0.0.0/0"
        next_hop = "10.9.0.254"

        [[l3_isolation_domains.static_routes]]
        prefix = "::/0"
        next_hop = "2001:db8:9::fe"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.1.0.0/24"
        ipv6_connected_prefix = "2001:db8:1::/64"
        neighbors = [
          { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
          { ip = "2001:db8:1::10", mac = "02:aa:00:00:01:10" },
        ]

        [[l3_networks]]
        name = "db"
        vlan = 200
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.2.0.0/24"
        ipv6_connected_prefix = "2001:db8:2::/64"
        neighbors = [
          { ip = "10.2.0.20", mac = "02:aa:00:00:02:20" },
          { ip = "2001:db8:2::20", mac = "02:aa:00:00:02:20" },
        ]

        [[l3_networks]]
        name = "core"
        vlan = 900
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.9.0.0/24"
        ipv6_connected_prefix = "2001:db8:9::/64"
        neighbors = [
          { ip = "10.9.0.254", mac = "02:cc:00:00:00:fe" },
          { ip = "2001:db8:9::fe", mac = "02:cc:00:00:00:fe" },
        ]

        [[trunked_networks]]
        name = "tn"
        vlans = [100, 200]

        [[ports]]
        name = "trunk"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "trunk"
        trunked_network = "tn"
        rx_pcap = "in-trunk.pcap"
        tx_pcap = "out-trunk.pcap"

        [[ports]]
        name = "core"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["core"]
        rx_pcap = "in-core.pcap"
        tx_pcap = "out-core.pcap"
    """)
    HA, HB, R = "02:aa:00:00:01:10", "02:aa:00:00:02:20", "02:cc:00:00:00:fe"
    A, B, A6, B6 = "10.1.0.10", "10.2.0.20", "2001:db8:1::10", "2001:db8:2::20"
    X, X6 = "198.51.100.10", "2001:db8:100::10"

    def to_core(vlan, mac, ip_in, ip_out, **tag):
        c.rx("trunk", eth(mac, P1, q(vlan, **tag)) / ip_in, net={100: "app", 200: "db"}[vlan],
             tx=[out("core", "core", eth(P2, R) / ip_out)])

    to_core(100, HA, tcp4(A, X), tcp4(A, X, ttl=63))
    to_core(100, HA, udp4(A, X), udp4(A, X, ttl=63))
    to_core(100, HA, icmp4(A, X), icmp4(A, X, ttl=63))
    to_core(100, HA, tcp6(A6, X6), tcp6(A6, X6, hlim=63))
    to_core(100, HA, udp6(A6, X6), udp6(A6, X6, hlim=63))
    to_core(100, HA, icmp6(A6, X6), icmp6(A6, X6, hlim=63))
    to_core(200, HB, icmp4(B, X, id=5), icmp4(B, X, id=5, ttl=63), pcp=6)
    to_core(200, HB, icmp6(B6, X6, id=5), icmp6(B6, X6, id=5, hlim=63), pcp=6)
    # Wrong and zero UDP checksums are not L4-validated or fixed.
    to_core(100, HA, udp4(A, X, data=b"bad l4 sum", chksum=0x1234), udp4(A, X, ttl=63, data=b"bad l4 sum",
                                                                        chksum=0x1234))
    to_core(100, HA, udp4(A, X, data=b"no l4 sum", chksum=0), udp4(A, X, ttl=63, data=b"no l4 sum", chksum=0))
    # IPv4 fragments (first and non-first) are routed like any IPv4 packet.
    to_core(100, HA, udp4(A, X, id=777, flags="MF", data=b"first fragment!!"),
            udp4(A, X, ttl=63, id=777, flags="MF", data=b"first fragment!!"))
    to_core(100, HA, IP(src=A, dst=X, id=777, proto=17, frag=3) / Raw(b"second fragment"),
            IP(src=A, dst=X, id=777, proto=17, frag=3, ttl=63) / Raw(b"second fragment"))
    # Padded minimum frames: tagged 64 -> 60 and 60 -> 56, padding kept.
    to_core(100, HA, tcp4(A, X, flags="A", seq=1, ack=1) / pad(6), tcp4(A, X, ttl=63, flags="A", seq=1, ack=1)
            / pad(6))
    to_core(200, HB, icmp4(B, X, data=b"") / pad(14, seed=0), icmp4(B, X, ttl=63, data=b"") / pad(14, seed=0))
    # IPv6 with trailing bytes after the packet.
    to_core(100, HA, udp6(A6, X6, data=b"") / pad(6), udp6(A6, X6, hlim=63, data=b"") / pad(6))
    # Hairpin on the trunk, VLAN 100 -> 200, both families.
    c.rx("trunk", eth(HA, P1, q(100)) / tcp4(A, B), net="app",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / tcp4(A, B, ttl=63))])
    c.rx("trunk", eth(HA, P1, q(100)) / icmp6(A6, B6), net="app",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / icmp6(A6, B6, hlim=63))])
    c.rx("trunk", eth(HA, P1, q(100)) / udp4(A, B, data=b"") / pad(14, seed=0x10), net="app",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / udp4(A, B, ttl=63, data=b"") / pad(14, seed=0x10))])
    # Back from the core: untagged 60-byte frames leave tagged as 64 bytes.
    c.rx("core", eth(R, P2) / tcp4(X, A, sport=443, dport=40001, flags="SA") / pad(6), net="core",
         tx=[out("trunk", "app", eth(P1, HA, q(100)) / tcp4(X, A, ttl=63, sport=443, dport=40001, flags="SA")
                 / pad(6))])
    c.rx("core", eth(R, P2) / icmp4(X, B, type=0, id=5, data=b"") / pad(18, seed=0), net="core",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / icmp4(X, B, ttl=63, type=0, id=5, data=b"") / pad(18, seed=0))])
    c.rx("core", eth(R, P2) / icmp6(X6, A6, reply=True), net="core",
         tx=[out("trunk", "app", eth(P1, HA, q(100)) / icmp6(X6, A6, reply=True, hlim=63))])
    c.rx("core", eth(R, P2) / udp6(X6, B6, sport=5000, dport=40000), net="core",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / udp6(X6, B6, hlim=63, sport=5000, dport=40000))])
    return c


@case("21-no-egress-port")
def no_egress_port():
    """A route to an L3 network that is attached to no port is dropped no_egress_port (IPv4 and IPv6), after the neighbour lookup (a neighbour miss there is neighbor_miss)."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_isolation_domains.static_routes]]
        prefix = "0.0.0.0/0"
        next_hop = "10.5.0.254"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.1.0.0/24"
        ipv6_connected_prefix = "2001:db8:1::/64"
        neighbors = [
          { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
          { ip = "10.1.0.11", mac = "02:aa:00:00:01:11" },
        ]

        [[l3_networks]]
        name = "orphan"
        vlan = 500
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.5.0.0/24"
        ipv6_connected_prefix = "2001:db8:5::/64"
        neighbors = [
          { ip = "10.5.0.10", mac = "02:55:00:00:00:10" },
          { ip = "10.5.0.254", mac = "02:55:00:00:00:fe" },
          { ip = "2001:db8:5::10", mac = "02:55:00:00:00:10" },
        ]

        [[ports]]
        name = "app"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["app"]
        rx_pcap = "in-app.pcap"
        tx_pcap = "out-app.pcap"
    """)
    A, A6 = "10.1.0.10", "2001:db8:1::10"
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.5.0.10"), net="app", drop="no_egress_port")
    c.rx("app", eth(APP_H, P1) / udp4(A, "198.51.100.1"), net="app", drop="no_egress_port")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:5::10"), net="app", drop="no_egress_port")
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.5.0.11"), net="app", drop="neighbor_miss")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:5::11"), net="app", drop="neighbor_miss")
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.5.0.1"), net="app", drop="to_gateway")
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.1.0.11"), net="app",
         tx=[out("app", "app", eth(P1, "02:aa:00:00:01:11") / udp4(A, "10.1.0.11", ttl=63))])
    return c


@case("22-burst-order")
def burst_order():
    """Replay order with burst_size = 2: ports are polled in configuration order, two frames per port per round, so the frames two ports send to a third leave it interleaved in pairs (p1 p1 p2 p2 p1 p1 p2 p1)."""
    c = Case("""
        [engine]
        burst_size = 2

        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_networks]]
        name = "n1"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.1.0.0/24"
        neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }]

        [[l3_networks]]
        name = "n2"
        vlan = 200
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.2.0.0/24"
        neighbors = [{ ip = "10.2.0.20", mac = "02:aa:00:00:02:20" }]

        [[l3_networks]]
        name = "n3"
        vlan = 300
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.3.0.0/24"
        neighbors = [{ ip = "10.3.0.30", mac = "02:aa:00:00:03:30" }]

        [[ports]]
        name = "p1"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["n1"]
        rx_pcap = "in-p1.pcap"
        tx_pcap = "out-p1.pcap"

        [[ports]]
        name = "p2"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["n2"]
        rx_pcap = "in-p2.pcap"
        tx_pcap = "out-p2.pcap"

        [[ports]]
        name = "p3"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "access"
        networks = ["n3"]
        tx_pcap = "out-p3.pcap"
    """)
    H1, H2, H3 = "02:aa:00:00:01:10", "02:aa:00:00:02:20", "02:aa:00:00:03:30"
    for i in range(5):
        d = f"p1 #{i}".encode()
        c.rx("p1", eth(H1, P1) / udp4("10.1.0.10", "10.3.0.30", sport=1000 + i, data=d), net="n1",
             tx=[out("p3", "n3", eth(P3, H3) / udp4("10.1.0.10", "10.3.0.30", ttl=63, sport=1000 + i, data=d))])
    for i in range(3):
        d = f"p2 #{i}".encode()
        c.rx("p2", eth(H2, P2) / udp4("10.2.0.20", "10.3.0.30", sport=2000 + i, data=d), net="n2",
             tx=[out("p3", "n3", eth(P3, H3) / udp4("10.2.0.20", "10.3.0.30", ttl=63, sport=2000 + i, data=d))])
    # Expected order on p3 (README "Replay order"), spelled out as a check.
    order = [r.frame[-5:] for r in c.processing_order()]
    assert order == [b"p1 #0", b"p1 #1", b"p2 #0", b"p2 #1", b"p1 #2", b"p1 #3", b"p2 #2", b"p1 #4"], order
    return c


@case("23-l2-mtu")
def l2_mtu():
    """L2 network MTU 1400: a frame whose payload after the port's tag and EtherType is 1400 bytes is bridged (untagged 1414 bytes, tagged 1418), 1401 bytes is dropped mtu_exceeded, in both directions between an access port and a trunk."""
    c = Case("""
        [[l2_networks]]
        name = "lan"
        vlan = 300
        mtu = 1400

        [[trunked_networks]]
        name = "tn"
        vlans = [300]

        [[ports]]
        name = "acc"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["lan"]
        rx_pcap = "in-acc.pcap"
        tx_pcap = "out-acc.pcap"

        [[ports]]
        name = "trunk"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "trunk"
        trunked_network = "tn"
        rx_pcap = "in-trunk.pcap"
        tx_pcap = "out-trunk.pcap"
    """)
    HA, HT = "02:a1:00:00:00:01", "02:70:00:00:00:01"

    def data(n):
        return bytes(i % 253 for i in range(n))
    for n in [1400, 1000]:
        f = l2data(HA, HT, data=data(n))
        assert len(f) == 14 + n
        c.rx("acc", f, net="lan", tx=[out("trunk", "lan", l2data(HA, HT, q(300), data=data(n)))])
    c.rx("acc", l2data(HA, HT, data=data(1401)), net="lan", drop="mtu_exceeded")
    c.rx("acc", eth(HA, BCAST) / big_udp4("192.168.30.1", "192.168.30.255", 1401), net="lan",
         drop="mtu_exceeded")
    c.rx("acc", eth(HA, BCAST) / big_udp4("192.168.30.1", "192.168.30.255", 1400), net="lan",
         tx=[out("trunk", "lan", eth(HA, BCAST, q(300)) / big_udp4("192.168.30.1", "192.168.30.255", 1400))])
    f = l2data(HT, HA, q(300), data=data(1400))
    assert len(f) == 18 + 1400
    c.rx("trunk", f, net="lan", tx=[out("acc", "lan", l2data(HT, HA, data=data(1400)))])
    c.rx("trunk", l2data(HT, HA, q(300), data=data(1401)), net="lan", drop="mtu_exceeded")
    c.rx("trunk", l2data(HT, HA, q(300), data=data(64)), net="lan",
         tx=[out("acc", "lan", l2data(HT, HA, data=data(64)))])
    return c


@case("24-l2-trunk-pcp")
def l2_trunk_pcp():
    """L2 bridging between two trunks and an access port: the egress trunk's tag is 802.1Q with the network's VLAN and the PCP/DEI of the ingress tag (an 802.1ad ingress tag too), PCP 0 for untagged ingress; inner tags stay payload."""
    c = Case("""
        [[l2_networks]]
        name = "lan"
        vlan = 300
        mtu = 1500

        [[trunked_networks]]
        name = "tn1"
        vlans = [300]

        [[trunked_networks]]
        name = "tn2"
        vlans = [300]

        [[ports]]
        name = "trunk1"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "trunk"
        trunked_network = "tn1"
        rx_pcap = "in-trunk1.pcap"
        tx_pcap = "out-trunk1.pcap"

        [[ports]]
        name = "trunk2"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "trunk"
        trunked_network = "tn2"
        rx_pcap = "in-trunk2.pcap"
        tx_pcap = "out-trunk2.pcap"

        [[ports]]
        name = "acc"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "access"
        networks = ["lan"]
        rx_pcap = "in-acc.pcap"
        tx_pcap = "out-acc.pcap"
    """)
    T1, T2, A = "02:71:00:00:00:01", "02:72:00:00:00:01", "02:a1:00:00:00:01"
    # trunk1 (polled first): T1 learned on trunk1; everything is flooded.
    c.rx("trunk1", l2data(T1, BCAST, q(300, pcp=5, dei=1), data=b"pcp 5 dei 1"), net="lan",
         tx=[out("trunk2", "lan", l2data(T1, BCAST, q(300, pcp=5, dei=1), data=b"pcp 5 dei 1")),
             out("acc", "lan", l2data(T1, BCAST, data=b"pcp 5 dei 1"))])
    c.rx("trunk1", l2data(T1, BCAST, ad(300, pcp=3), q(7, pcp=1), data=b"s-tag pcp 3"), net="lan",
         tx=[out("trunk2", "lan", l2data(T1, BCAST, q(300, pcp=3), q(7, pcp=1), data=b"s-tag pcp 3")),
             out("acc", "lan", l2data(T1, BCAST, q(7, pcp=1), data=b"s-tag pcp 3"))])
    c.rx("trunk1", eth(T1, A, q(300, pcp=7)) / udp4("192.168.30.1", "192.168.30.3"), net="lan",
         tx=[out("trunk2", "lan", eth(T1, A, q(300, pcp=7)) / udp4("192.168.30.1", "192.168.30.3")),
             out("acc", "lan", eth(T1, A) / udp4("192.168.30.1", "192.168.30.3"))])
    # trunk2: T2 learned on trunk2; T1 known on trunk1, A not known yet.
    c.rx("trunk2", l2data(T2, T1, q(300, pcp=2, dei=1), data=b"T2 to T1"), net="lan",
         tx=[out("trunk1", "lan", l2data(T2, T1, q(300, pcp=2, dei=1), data=b"T2 to T1"))])
    c.rx("trunk2", l2data(T2, A, q(300, pcp=6), data=b"T2 to A"), net="lan",
         tx=[out("trunk1", "lan", l2data(T2, A, q(300, pcp=6), data=b"T2 to A")),
             out("acc", "lan", l2data(T2, A, data=b"T2 to A"))])
    c.rx("trunk2", l2data("02:72:00:00:00:02", T2, q(300, dei=1), data=b"T2b to T2"), net="lan",
         drop="l2_same_port")
    # acc: untagged ingress, so the trunk tags carry PCP 0 and DEI 0.
    c.rx("acc", l2data(A, T1, data=b"A to T1"), net="lan",
         tx=[out("trunk1", "lan", l2data(A, T1, q(300), data=b"A to T1"))])
    c.rx("acc", l2data(A, T2, data=b"A to T2"), net="lan",
         tx=[out("trunk2", "lan", l2data(A, T2, q(300), data=b"A to T2"))])
    c.rx("acc", eth(A, BCAST) / udp4("192.168.30.3", "192.168.30.255", dport=9), net="lan",
         tx=[out("trunk1", "lan", eth(A, BCAST, q(300)) / udp4("192.168.30.3", "192.168.30.255", dport=9)),
             out("trunk2", "lan", eth(A, BCAST, q(300)) / udp4("192.168.30.3", "192.168.30.255", dport=9))])
    return c


# ---------------------------------------------------------------------------



# ---------------------------------------------------------------------------
# CSN cases. One trunk port carries the workload network (VLAN 100) and the
# CSN (VLAN 900), so frames are processed in the order listed; burst_size = 1
# gives every frame its own clock reading (its capture timestamp).
# ---------------------------------------------------------------------------

CSN_ROUTER = "02:cc:00:00:09:fe"
CSN_H10 = "02:aa:00:00:01:10"


def csn_config(endpoints, settings=""):
    return f"""
        [engine]
        burst_size = 1

        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_isolation_domains.static_routes]]
        prefix = "0.0.0.0/0"
        next_hop = "10.9.0.254"

        [[l3_networks]]
        name = "app"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.1.0.0/24"
        neighbors = [{{ ip = "10.1.0.10", mac = "{CSN_H10}" }}]

        [[l3_networks]]
        name = "csn"
        vlan = 900
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.9.0.0/24"
        neighbors = [{{ ip = "10.9.0.254", mac = "{CSN_ROUTER}" }}]

        [[trunked_networks]]
        name = "t"
        vlans = [100, 900]

        [[ports]]
        name = "p"
        backend = "pcap"
        mac = "{P1}"
        mode = "trunk"
        trunked_network = "t"
        rx_pcap = "in-p.pcap"
        tx_pcap = "out-p.pcap"

        [cloud_services_network]
        network = "csn"
        enable_default_egress_endpoints = false
        additional_egress_endpoints = [
          {{ category = "test", endpoints = [
{endpoints}
          ] }},
        ]

        [cloud_services_network.settings]
        flow_capacity = 1000
{settings}
    """


def from_app(pkt):
    """A workload packet on the app VLAN."""
    return eth(CSN_H10, P1, q(100)) / pkt


def to_csn(pkt):
    """The same packet routed out to the CSN router (TTL already lowered by
    the caller)."""
    return out("p", "csn", eth(P1, CSN_ROUTER, q(900)) / pkt)


def from_csn(pkt):
    return eth(CSN_ROUTER, P1, q(900)) / pkt


def to_app(pkt):
    return out("p", "app", eth(P1, CSN_H10, q(100)) / pkt)


def fwd_out(c, make, **kw):
    """An allowed egress packet: made by make(ttl=...), routed to the CSN."""
    c.rx("p", from_app(make(ttl=64, **kw)), net="app", tx=[to_csn(make(ttl=63, **kw))])


def fwd_in(c, make, **kw):
    """A return packet from the CSN on a flow: routed to the workload."""
    c.rx("p", from_csn(make(ttl=64, **kw)), net="csn", tx=[to_app(make(ttl=63, **kw))])


@case("25-csn-allowlist")
def csn_allowlist():
    """CSN egress allowlist and stateful return path: an allowed TCP flow out (exact address and port) and its replies back, a CIDR rule, a denied destination, a denied port on an allowed address, unsolicited inbound TCP and UDP, an ICMP error about an open flow (passes) and one about no flow (dropped)."""
    c = Case(csn_config("""            { domain_name = "198.51.100.10", port = 443 },
            { domain_name = "203.0.113.0/24", port = 443 },"""))
    A, R = "10.1.0.10", "198.51.100.10"

    def t(ttl, src=A, dst=R, sport=40001, dport=443, **kw):
        return tcp4(src, dst, ttl=ttl, sport=sport, dport=dport, **kw)

    fwd_out(c, t, flags="S", seq=100)
    fwd_in(c, t, src=R, dst=A, sport=443, dport=40001, flags="SA", seq=900, ack=101)
    fwd_out(c, t, flags="A", seq=101, ack=901)
    fwd_out(c, t, flags="PA", seq=101, ack=901, data=b"GET / HTTP/1.1\r\n\r\n")
    fwd_in(c, t, src=R, dst=A, sport=443, dport=40001, flags="PA", seq=901, ack=119, data=b"HTTP/1.1 200 OK\r\n\r\n")
    # A CIDR rule.
    fwd_out(c, t, dst="203.0.113.7", sport=40002, flags="S")
    # Not allowed: another address; the allowed address on another port; UDP
    # to the allowed port (rules with a port allow TCP and UDP, so this one
    # passes) is not tested here.
    c.rx("p", from_app(t(64, dst="198.51.100.99", sport=40003, flags="S")), net="app", drop="csn_denied")
    c.rx("p", from_app(t(64, dport=80, sport=40004, flags="S")), net="app", drop="csn_denied")
    # Unsolicited from the CSN: a SYN to the workload, a UDP datagram from a
    # host with an open flow but another 5-tuple.
    c.rx("p", from_csn(t(64, src=R, dst=A, sport=443, dport=40099, flags="S")), net="csn", drop="csn_no_flow")
    c.rx("p", from_csn(udp4("203.0.113.7", A, sport=443, dport=40002)), net="csn", drop="csn_no_flow")
    # ICMP errors from the CSN router quoting the workload's packet: about the
    # open flow it passes, about a flow that never existed it is dropped.
    quoted = bytes(t(63, flags="PA", seq=119, ack=921))[:28]
    err = lambda ttl, q=quoted: IP(src="10.9.0.254", dst=A, ttl=ttl) / ICMP(type=3, code=4, nexthopmtu=1400) / Raw(q)
    c.rx("p", from_csn(err(64)), net="csn", tx=[to_app(err(63))])
    stray = bytes(t(63, sport=40555, flags="S"))[:28]
    c.rx("p", from_csn(err(64, stray)), net="csn", drop="csn_no_flow")
    # The flow's reply still passes after all that.
    fwd_in(c, t, src=R, dst=A, sport=443, dport=40001, flags="FA", seq=921, ack=119)
    return c


def dns_answer(qname, answers, id=7, qtype="A"):
    """A DNS response (RD, RA) to `qname` with `answers` = [(name, type,
    ttl, rdata)] in order."""
    an = [DNSRR(rrname=name, type=rtype, ttl=ttl, rdata=rdata) for name, rtype, ttl, rdata in answers]
    msg = bytes(DNS(id=id, qr=1, rd=1, ra=1, qd=DNSQR(qname=qname, qtype=qtype), an=an))
    assert struct.unpack_from("!H", msg, 6)[0] == len(answers), "ANCOUNT"
    return msg


@case("26-csn-dns-learning")
def csn_dns_learning():
    """CSN domain names learned from DNS responses that cross cnfwd: an exact name's A answer allows its address (on the rule's port only) right after the response; a CNAME chain under a wildcard rule allows the chain's address; the wildcard's apex and a malformed response install nothing; after the TTL (clamped up to dns_ttl_min_s) and the idle grace, the address is denied for new flows while the established flow to it keeps working."""
    c = Case(csn_config("""            { domain_name = "192.0.2.53", port = 53 },
            { domain_name = "api.example.com", port = 443 },
            { domain_name = "*.cdn.example.net", port = 443 },""",
                        settings="""        dns_ttl_min_s = 20
        dns_ttl_max_s = 3600
        dns_idle_grace_s = 10"""))
    A, NS = "10.1.0.10", "192.0.2.53"

    def u(ttl, src=A, dst=NS, sport=40053, dport=53, data=b"q"):
        return udp4(src, dst, ttl=ttl, sport=sport, dport=dport, data=data)

    def t(ttl, dst, sport, flags="S", src=A, dport=443, **kw):
        return tcp4(src, dst, ttl=ttl, sport=sport, dport=dport, flags=flags, **kw)

    def resp(data):
        fwd_in(c, u, src=NS, dst=A, sport=53, dport=40053, data=data)

    # Before any answer the name's address is denied.
    c.rx("p", from_app(t(64, "198.18.0.5", 41000)), net="app", drop="csn_denied")
    # The query (an allowed UDP flow to the resolver) and its answer: TTL 5 s,
    # clamped up to 20 s.
    fwd_out(c, u, data=bytes(DNS(id=7, rd=1, qd=DNSQR(qname="api.example.com"))))
    resp(dns_answer("api.example.com", [("api.example.com", "A", 5, "198.18.0.5")]))
    # Right after it: allowed on the rule's port, a full handshake; another
    # port is still denied.
    fwd_out(c, t, dst="198.18.0.5", sport=41001, seq=1)
    fwd_in(c, t, src="198.18.0.5", dst=A, sport=443, dport=41001, flags="SA", seq=50, ack=2)
    fwd_out(c, t, dst="198.18.0.5", sport=41001, flags="A", seq=2, ack=51)
    c.rx("p", from_app(t(64, "198.18.0.5", 41002, dport=8443)), net="app", drop="csn_denied")
    # CNAME chain under the wildcard: the chain's last name has the address.
    resp(dns_answer("img.cdn.example.net", [("img.cdn.example.net", "CNAME", 300, "edge.provider.test"),
                                            ("edge.provider.test", "A", 300, "198.18.0.9")], id=8))
    fwd_out(c, t, dst="198.18.0.9", sport=41003)
    # The wildcard's apex is not covered: nothing learned.
    resp(dns_answer("cdn.example.net", [("cdn.example.net", "A", 300, "198.18.0.11")], id=9))
    c.rx("p", from_app(t(64, "198.18.0.11", 41004)), net="app", drop="csn_denied")
    # A malformed answer (the A record cut short) for an allowlisted name:
    # forwarded on its flow, but it installs nothing.
    good = dns_answer("api.example.com", [("api.example.com", "A", 300, "198.18.0.77")], id=10)
    resp(good[:-2])
    c.rx("p", from_app(t(64, "198.18.0.77", 41005)), net="app", drop="csn_denied")
    # 40 s later the 20 s TTL and the 10 s idle grace (counted from the last
    # new flow at ~0 s) are over: a new flow to the address is denied, the
    # established one keeps working both ways.
    c.advance(40)
    c.rx("p", from_app(t(64, "198.18.0.5", 41006)), net="app", drop="csn_denied")
    fwd_out(c, t, dst="198.18.0.5", sport=41001, flags="PA", seq=2, ack=51, data=b"still here")
    fwd_in(c, t, src="198.18.0.5", dst=A, sport=443, dport=41001, flags="A", seq=51, ack=12)
    # The CNAME chain's address had TTL 300: still allowed.
    fwd_out(c, t, dst="198.18.0.9", sport=41007)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=CASES_DIR,
                    help="where to write the cases (default: pcap-tests/cases)")
    ap.add_argument("only", nargs="*", help="generate only these cases (names or NN prefixes)")
    args = ap.parse_args()
    names = [n for n, _ in CASES]
    assert len(set(names)) == len(names)
    selected = [(n, f) for n, f in CASES if not args.only or any(n.startswith(o) for o in args.only)]
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.only:
        # The generator owns every NN-name folder: remove stale ones too.
        for d in sorted(args.out.iterdir()):
            if d.is_dir() and re.match(r"^\d\d-", d.name):
                shutil.rmtree(d)
    for name, fn in selected:
        folder = args.out / name
        if folder.exists():
            shutil.rmtree(folder)
        c = fn()
        doc = one_line(fn.__doc__)
        c.write(folder, doc)
        s = c.stats()
        fwd = sum(1 for r in c.rx_list if r.tx)
        print(f"{name}: {len(c.rx_list)} in, {fwd} forwarded, "
              f"{sum(s['drops'].values())} dropped, {sum(p['tx_packets'] for p in s['ports'].values())} out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
