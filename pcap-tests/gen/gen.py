#!/usr/bin/env python3
"""Generate cnfwd's pcap regression corpus (pcap-tests/cases/).

Run from the repository root:

    python3 pcap-tests/gen/gen.py

Every case is one function below. It writes its config.toml as literal text,
then lists the frames arriving on each port together with their expected fate,
written by hand from the rule the case exercises (pcap-tests/README.md for
forwarding, docs/slow-path.md for the slow path): either a drop reason, or the
exact frames that must leave which ports, plus the frames cnfwd generates
because of it (ICMP errors, ARP requests / neighbour solicitations). The
expected frames are built with scapy from the rule (new MACs, tag, TTL - 1,
checksums recomputed by scapy), never copied from cnfwd's output.

The logic shared between cases is bookkeeping that is not forwarding:
- the replay order (ports polled in configuration order, `burst_size` frames
  per port per round) and the counters implied by the hand-written fates;
- the slow path's clocks, which no case can write down frame by frame: the
  announcements every L3 port sends at start (built from the case's config),
  the requests repeated every `neighbor_retry_ms` and the failure of a
  resolution after the end of input, and the ICMP rate limits (token buckets
  run over the capture timestamps, which decide whether a hand-built error is
  sent or counted `icmp_rate_limited`);
- sanity checks that a case is consistent with its own configuration (names
  exist, egress source MAC is the egress port's, tags carry the attached
  VLAN, ...) and that every frame cnfwd originates is well-formed (lengths,
  IPv4 header, ICMP and ICMPv6 checksums verified independently of scapy).

Output is deterministic: fixed timestamps (1700000000 + k * 1 ms, k counting
the frames of a case in the order they are listed, plus the gaps a case asks
for; the floods of cases 39 and 40 arrive at one instant), no randomness.

Choices made where docs/slow-path.md leaves something open are marked
"CHOICE:" in comments below (the implementation must make the same ones).
"""

import argparse
import heapq
import ipaddress
import json
import re
import shutil
import struct
import sys
import textwrap
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from scapy.config import conf

conf.verb = 0

from scapy.layers.dns import DNS, DNSQR, DNSRR  # noqa: E402
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption, IPOption_Router_Alert  # noqa: E402
from scapy.layers.inet6 import (  # noqa: E402
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_Redirect,
    ICMPv6ND_RA,
    ICMPv6ND_RS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6PacketTooBig,
    ICMPv6TimeExceeded,
    ICMPv6MLQuery,
    ICMPv6MLReport,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    PadN,
    RouterAlert,
)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether  # noqa: E402
from scapy.packet import Padding, Raw  # noqa: E402
from scapy.utils import RawPcapWriter, checksum  # noqa: E402
from scapy.utils6 import in6_getnsma, in6_getnsmac, in6_mactoifaceid  # noqa: E402
from scapy.pton_ntop import inet_pton  # noqa: E402
import socket  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]  # pcap-tests/
CASES_DIR = ROOT / "cases"
T0 = Decimal(1700000000)

BCAST = "ff:ff:ff:ff:ff:ff"
ALL_NODES_MAC = "33:33:00:00:00:01"

# Drop reasons (counter names of dataplane/src/pipeline/drop.rs, as listed in
# pcap-tests/README.md and docs/slow-path.md). The first group happens before
# a frame is classified to a network, so those drops are counted per port only.
PRE_CLASSIFY = {"eth_truncated", "tagged_on_access", "untagged_on_trunk", "unknown_vlan"}
REASONS = PRE_CLASSIFY | {
    "l2_same_port", "l2_no_egress", "mtu_exceeded", "directed_broadcast",
    "inner_vlan_tag", "not_ip", "l3_multicast", "l3_mac_mismatch",
    "ip4_malformed", "ip4_bad_checksum", "ip6_malformed",
    "to_gateway", "no_route", "ttl_expired", "neighbor_miss", "no_egress_port",
    "csn_denied", "csn_no_flow", "csn_flow_table_full",
    # The slow path (docs/slow-path.md, "Counting"); `arp` is gone.
    "arp_not_for_us", "arp_sender_mismatch", "arp_sender_outside", "arp_malformed", "arp_consumed",
    "nd_invalid", "nd_not_for_us", "nd_consumed", "icmp6_unsupported",
    "neighbor_unresolved", "neighbor_hold_full",
    # Router and bridge hygiene (docs/design.md, "What is never forwarded").
    "martian_source", "martian_destination", "ip6_martian_source", "ip6_martian_destination",
    "ip6_scope_violation", "rpf_failed", "l2_invalid_source", "l2_reserved_group",
}

# The `slow_path` counters of the stats JSON, in the order docs/slow-path.md
# lists them; expected-stats.json lists the non-zero ones.
SLOW_COUNTERS = [
    "arp_replies_sent", "na_sent", "echo_replies_sent", "arp_requests_sent", "ns_sent",
    "announcements_sent", "probes_sent", "icmp_errors_sent", "icmp_rate_limited", "icmp_suppressed",
    "neighbors_learned", "neighbor_table_full", "neighbors_aged_out", "packets_held", "packets_released",
    "mac_moves", "macs_aged_out", "mac_table_full", "punt_queue_full",
]

# `[slow_path]` defaults (docs/slow-path.md, "Settings").
SLOW_DEFAULTS = {
    "announce": True, "neighbor_reachable_s": 30, "neighbor_retry_ms": 1000, "neighbor_tries": 3,
    "neighbor_hold_packets": 64, "neighbor_hold_total": 1024, "neighbor_table_size": 4096,
    "icmp_rate_per_s": 1000, "icmp_burst": 50, "icmp_target_interval_ms": 1000, "icmp_target_burst": 6,
}

# ICMP errors (docs/slow-path.md, table of "ICMP errors"): cause -> (type, code)
# for IPv4 and for IPv6.
ICMP_ERRORS = {
    "ttl": ((11, 0), (3, 0)),          # ttl_expired: time exceeded
    "no_route": ((3, 0), (1, 0)),      # net unreachable / no route to destination
    "too_big": ((3, 4), (2, 0)),       # fragmentation needed / Packet Too Big (with the MTU)
    "unresolved": ((3, 1), (1, 3)),    # host unreachable / address unreachable
}
ICMP4_ERROR_MAX = 576   # the whole IPv4 error packet (RFC 1812 4.3.2.3)
ICMP6_ERROR_MAX = 1280  # the whole IPv6 error packet (RFC 4443 2.4 (c))

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


def icmp6(src, dst, hlim=64, reply=False, id=0x66, seq=1, data=b"cnfwd-ping6", **ip6):
    echo = ICMPv6EchoReply if reply else ICMPv6EchoRequest
    return IPv6(src=src, dst=dst, hlim=hlim, **ip6) / echo(id=id, seq=seq, data=data)


def big_udp4(src, dst, total_len, ttl=64, **ip):
    """IPv4/UDP packet whose IPv4 total length is exactly total_len."""
    return udp4(src, dst, ttl=ttl, data=bytes(i % 251 for i in range(total_len - 28)), **ip)


def big_udp6(src, dst, ip_len, hlim=64):
    """IPv6/UDP packet whose length (40 + payload length) is exactly ip_len."""
    return udp6(src, dst, hlim=hlim, data=bytes(i % 251 for i in range(ip_len - 48)))


def with_bad_ip4_checksum(pkt):
    """The same packet with a wrong IPv4 header checksum."""
    good = IP(bytes(pkt[IP])).chksum
    bad = pkt.copy()
    bad[IP].chksum = good ^ 0x5A5A
    return bad


def arp_req(hwsrc, psrc, pdst, op=1, hwdst="00:00:00:00:00:00"):
    """An ARP packet as a host sends it (request by default)."""
    return ARP(op=op, hwsrc=hwsrc, psrc=psrc, hwdst=hwdst, pdst=pdst)


def ns(src, dst, tgt, sll=None, hlim=255, code=0):
    """A neighbour solicitation as a host sends it (RFC 4861 4.3), with a
    source link-layer address option when `sll` is given."""
    p = IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6ND_NS(tgt=tgt, code=code)
    return p / ICMPv6NDOptSrcLLAddr(lladdr=sll) if sll else p


def na(src, dst, tgt, tll=None, R=0, S=1, O=1, hlim=255):
    """A neighbour advertisement as a host sends it (RFC 4861 4.4)."""
    p = IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6ND_NA(tgt=tgt, R=R, S=S, O=O)
    return p / ICMPv6NDOptDstLLAddr(lladdr=tll) if tll else p


# -- addresses (RFC 4291) -----------------------------------------------------


def link_local(mac):
    """fe80::/64 + the modified EUI-64 of `mac` (RFC 4291 2.5.1 and appendix
    A: flip bit 0x02 of the first byte, insert ff:fe in the middle)."""
    b = mac_bytes(mac)
    iid = bytes([b[0] ^ 0x02]) + b[1:3] + b"\xff\xfe" + b[3:6]
    addr = str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid))
    # Cross-check with scapy's own EUI-64.
    assert ipaddress.IPv6Address("fe80::" + in6_mactoifaceid(mac).lower()) == ipaddress.IPv6Address(addr)
    return addr


def solicited_node(addr):
    """ff02::1:ffXX:XXXX, XX:XXXX the last 24 bits of `addr` (RFC 4291 2.7.1)."""
    a = ipaddress.IPv6Address(addr).packed
    sn = str(ipaddress.IPv6Address(b"\xff\x02" + bytes(9) + b"\x01\xff" + a[13:]))
    assert ipaddress.IPv6Address(socket.inet_ntop(socket.AF_INET6, in6_getnsma(inet_pton(socket.AF_INET6, addr)))) \
        == ipaddress.IPv6Address(sn)
    return sn


def multicast_mac(addr6):
    """33:33 + the last 32 bits of an IPv6 multicast address (RFC 2464 7)."""
    a = ipaddress.IPv6Address(addr6).packed
    mac = "33:33:" + ":".join(f"{x:02x}" for x in a[12:])
    assert mac == in6_getnsmac(a)
    return mac


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


# -- what cnfwd sends (docs/slow-path.md), one builder per rule ----------------


def arp_reply_frame(port_mac, gw, req, *tags):
    """The answer to an ARP request `req` (scapy ARP) for gateway `gw`:
    Ethernet dst = the request's sender MAC, ARP op 2, sender = (port MAC,
    gateway), target = (request's sender MAC, request's sender IP). 42 bytes
    (+4 tagged): not padded."""
    f = eth(port_mac, req.hwsrc, *tags) / ARP(op=2, hwsrc=port_mac, psrc=gw, hwdst=req.hwsrc, pdst=req.psrc)
    assert len(f) == 42 + 4 * len(tags)
    return f


def arp_request_frame(port_mac, gw, target, *tags):
    """A resolution request: broadcast, ARP op 1, sender = (port MAC, egress
    network's gateway), target = (00:00:00:00:00:00, next hop)."""
    f = eth(port_mac, BCAST, *tags) / ARP(op=1, hwsrc=port_mac, psrc=gw, hwdst="00:00:00:00:00:00", pdst=target)
    assert len(f) == 42 + 4 * len(tags)
    return f


def garp_frame(port_mac, gw, *tags):
    """An announcement: broadcast ARP request, sender = (port MAC, gateway),
    target = (00:00:00:00:00:00, gateway)."""
    f = eth(port_mac, BCAST, *tags) / ARP(op=1, hwsrc=port_mac, psrc=gw, hwdst="00:00:00:00:00:00", pdst=gw)
    assert len(f) == 42 + 4 * len(tags)
    return f


def na_frame(port_mac, eth_dst, src, dst, target, solicited, *tags):
    """A neighbour advertisement from cnfwd: hop limit 255, traffic class 0,
    flow label 0; R=1, S as given, O=1; option 2 (target link-layer address) =
    port MAC. 86 bytes (+4 tagged)."""
    f = (eth(port_mac, eth_dst, *tags) / IPv6(src=src, dst=dst, hlim=255, tc=0, fl=0)
         / ICMPv6ND_NA(R=1, S=1 if solicited else 0, O=1, tgt=target) / ICMPv6NDOptDstLLAddr(lladdr=port_mac))
    assert len(f) == 86 + 4 * len(tags)
    return f


def ns_frame(port_mac, gw6, target, *tags):
    """A resolution request: IPv6 src = egress network's gateway, dst = the
    solicited-node address of the next hop, hop limit 255; NS target = next
    hop, option 1 (source link-layer address) = port MAC; Ethernet dst
    33:33:ff + the last 3 bytes of the next hop.
    CHOICE: traffic class 0 and flow label 0 (unstated for NS; as in the NA
    rule and as Linux sends them)."""
    f = (eth(port_mac, multicast_mac(solicited_node(target)), *tags)
         / IPv6(src=gw6, dst=solicited_node(target), hlim=255, tc=0, fl=0)
         / ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=port_mac))
    assert len(f) == 86 + 4 * len(tags)
    return f


def icmp4_error(src, dst, type, code, offending, mtu=None):
    """An ICMP error from cnfwd (RFC 1812 4.3.2): TOS 0xc0, ID 0, flags 0, TTL
    64; ICMP type/code, 4 bytes (0, or 2 bytes 0 and the 16-bit next-hop MTU),
    then the offending IP packet as received, cut so the whole IPv4 packet is
    at most 576 bytes. `offending`: the IP packet (scapy or bytes), without
    link padding. Returns the bytes of the IPv4 packet (scapy would re-dissect
    a long quote as RFC 4884 extensions)."""
    quote = bytes(offending)[: ICMP4_ERROR_MAX - 28]
    icmp = ICMP(type=type, code=code)
    if mtu is not None:
        icmp.nexthopmtu = mtu
    p = IP(src=src, dst=dst, tos=0xC0, id=0, flags=0, ttl=64, proto=1) / icmp / Raw(quote)
    b = bytes(p)
    assert b[24:28] == (struct.pack("!HH", 0, mtu) if mtu is not None else bytes(4)), b[20:28].hex()
    assert len(b) <= ICMP4_ERROR_MAX
    return b


def icmp6_error(src, dst, type, code, offending, mtu=None):
    """An ICMPv6 error from cnfwd (RFC 4443): traffic class 0, flow label 0, hop
    limit 64; type/code, 4 bytes (0, or the 32-bit MTU for Packet Too Big), then
    the offending packet as received, cut so the whole IPv6 packet is at most
    1280 bytes. Returns the bytes of the IPv6 packet."""
    quote = Raw(bytes(offending)[: ICMP6_ERROR_MAX - 48])
    hdr = {1: ICMPv6DestUnreach, 2: ICMPv6PacketTooBig, 3: ICMPv6TimeExceeded}[type]
    icmp = hdr(code=code, mtu=mtu) if type == 2 else hdr(code=code)
    p = IPv6(src=src, dst=dst, hlim=64, tc=0, fl=0, nh=58) / icmp / quote
    b = bytes(p)
    assert b[44:48] == (struct.pack("!I", mtu) if type == 2 else bytes(4)), b[40:48].hex()
    assert len(b) <= ICMP6_ERROR_MAX
    return b


def echo_reply4(req):
    """The answer to an IPv4 echo request `req` (scapy IP/ICMP): the request's
    IPv4 header with source and destination swapped, TTL 64, options removed
    (IHL 5), checksum recomputed, TOS, ID and flags kept; ICMP type 0, code 0,
    identifier, sequence and data copied."""
    r = IP(bytes(req))
    assert r[ICMP].type == 8 and r.frag == 0
    data = bytes(r[ICMP].payload)
    return (IP(src=r.dst, dst=r.src, ttl=64, tos=r.tos, id=r.id, flags=r.flags, proto=1)
            / ICMP(type=0, code=0, id=r[ICMP].id, seq=r[ICMP].seq) / Raw(data))


def echo_reply6(req):
    """The answer to an ICMPv6 echo request: hop limit 64, traffic class and
    flow label kept; type 129, identifier, sequence and data copied."""
    r = IPv6(bytes(req))
    e = r[ICMPv6EchoRequest]
    return (IPv6(src=r.dst, dst=r.src, hlim=64, tc=r.tc, fl=r.fl)
            / ICMPv6EchoReply(id=e.id, seq=e.seq, data=bytes(e.data)))


# ---------------------------------------------------------------------------
# Well-formedness of what cnfwd originates, checked without scapy
# ---------------------------------------------------------------------------


def check_wellformed(frame: bytes):
    """Lengths and checksums of a frame cnfwd builds: ARP of exactly 28 bytes,
    IPv4 header checksum and total length, ICMP checksum, IPv6 payload length
    and ICMPv6 checksum over the pseudo-header. Generated frames are never
    padded, so the IP packet ends the frame."""
    tags, et = tags_of(frame)
    l3 = frame[14 + 4 * len(tags):]
    if et == 0x0806:
        assert len(l3) == 28, len(l3)
        htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", l3)
        assert (htype, ptype, hlen, plen) == (1, 0x0800, 6, 4) and op in (1, 2)
    elif et == 0x0800:
        ihl = (l3[0] & 15) * 4
        assert l3[0] >> 4 == 4 and ihl >= 20
        assert struct.unpack_from("!H", l3, 2)[0] == len(l3), "IPv4 total length"
        assert checksum(l3[:ihl]) == 0, "IPv4 header checksum"
        if l3[9] == 1:
            assert checksum(l3[ihl:]) == 0, "ICMP checksum"
    elif et == 0x86DD:
        assert l3[0] >> 4 == 6
        assert struct.unpack_from("!H", l3, 4)[0] == len(l3) - 40, "IPv6 payload length"
        if l3[6] == 58:
            body = l3[40:]
            pseudo = l3[8:40] + struct.pack("!I3xB", len(body), 58)
            assert checksum(pseudo + body) == 0, "ICMPv6 checksum"
    else:
        raise AssertionError(f"cnfwd originates no EtherType {et:#x}")


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


def pcp_of_first_tag(frame: bytes):
    return frame[14] >> 5


# ---------------------------------------------------------------------------
# Case bookkeeping (not forwarding logic)
# ---------------------------------------------------------------------------


@dataclass
class Tx:
    """A frame expected on port `port`, sent out on network `net`.

    kind: "fwd" a forwarded frame (the fast path); "frag" one fragment of a
    forwarded IPv4 packet (fast path; see frags()); "answer" the answer to the
    received frame (ARP reply, NA, echo reply: the received frame is *sent*);
    "gen" a frame cnfwd originates (counted in totals.generated).
    counter: the `slow_path` counter it adds to when sent.
    err_to / exempt: an ICMP error, subject to the rate limits: its
    destination's bucket (unless exempt) and the worker's.
    frame may be a callable building the bytes (the floods' errors are only
    built when sent)."""
    port: str
    net: str
    frame: object
    kind: str = "fwd"
    counter: str | None = None
    err_to: str | None = None
    exempt: bool = False

    def data(self):
        if callable(self.frame):
            self.frame = bytes(self.frame())
        return self.frame


def out(port, net, frame):
    """One forwarded frame expected on port `port`, sent out on network `net`."""
    return Tx(port, net, bytes(frame))


def fragments4(ip, mtu):
    """The IPv4 fragments a router sends for packet `ip` (TTL already
    decremented) on a link of MTU `mtu` (RFC 791 3.2, RFC 1812 5.2.6; the
    choices Linux's ip_do_fragment makes where the RFC leaves one): every
    piece but the last carries (mtu - header length) // 8 * 8 payload bytes;
    the identification is kept; offsets continue from the packet's own; MF is
    set on all pieces but the last, which keeps the packet's own MF; the first
    piece keeps every option, later ones keep the header length with the
    options whose copy bit (0x80) is clear overwritten by NOPs; the reserved
    flag is cleared; checksums recomputed. Returns scapy IP packets."""
    raw = bytes(ip)
    ihl = (raw[0] & 0x0F) * 4
    total = struct.unpack("!H", raw[2:4])[0]
    first, payload = bytearray(raw[:ihl]), raw[ihl:total]
    frag = struct.unpack("!H", raw[6:8])[0]
    base, more = (frag & 0x1FFF) * 8, bool(frag & 0x2000)
    step = (mtu - ihl) // 8 * 8
    assert step > 0 and total > mtu
    later = bytearray(first)
    at = 20
    while at < ihl and later[at] != 0:
        if later[at] == 1:
            at += 1
            continue
        olen = later[at + 1]
        if olen < 2 or at + olen > ihl:
            break
        if not later[at] & 0x80:
            later[at:at + olen] = b"\x01" * olen
        at += olen
    pieces = []
    for off in range(0, len(payload), step):
        data = payload[off:off + step]
        h = bytearray(first if off == 0 else later)
        last = off + step >= len(payload)
        h[2:4] = struct.pack("!H", ihl + len(data))
        h[6:8] = struct.pack("!H", (base + off) // 8 | (0 if last and not more else 0x2000))
        h[10:12] = b"\0\0"
        h[10:12] = struct.pack("!H", checksum(bytes(h)))
        pieces.append(IP(bytes(h) + data))
    return pieces


def frags(port, net, l2, ip, mtu):
    """The fragments of IPv4 packet `ip` for MTU `mtu`, expected on `port`
    (network `net`) behind the Ethernet header `l2`, in order."""
    return [Tx(port, net, bytes(l2 / f), "frag") for f in fragments4(ip, mtu)]


@dataclass
class Rx:
    port: str
    frame: bytes
    ts: Decimal
    net: str | None
    drop: str | None
    tx: list = field(default_factory=list)
    gen: list = field(default_factory=list)
    hold: object = None
    answers: object = None
    count: tuple = ()
    learn: tuple | None = None


@dataclass
class Hold:
    """A packet held for a resolution: `fwd` is what leaves when the answer
    comes (None in a case where none comes), `err` the error it gets when the
    resolution fails (None: the error is suppressed, counted by the case)."""
    res: "Resolution"
    fwd: Tx | None
    err: Tx | None


class Resolution:
    """One (address, network) being resolved: the request frame that goes out
    at once and every neighbor_retry_ms, the held packets."""

    def __init__(self, port, net, addr, request):
        self.port, self.net, self.addr = port, net, addr
        self.request = bytes(request)
        self.counter = "arp_requests_sent" if tags_of(self.request)[1] == 0x0806 else "ns_sent"
        self.held = []
        self.state = "new"  # -> "incomplete" -> "answered" | "failed"


class Bucket:
    """A token bucket (`period` seconds per token, `depth` tokens), starting
    full, run in two ways that must agree on every decision: tokens accrued
    continuously (Linux's inet_peer_xrlim_allow / icmp_global_allow) and whole
    tokens added per elapsed period. A case whose outcome depended on the
    refill granularity would fail here instead of guessing."""

    def __init__(self, period, depth, now):
        self.period, self.depth = Fraction(period), depth
        self.cont, self.cont_t = Fraction(depth), now
        self.disc, self.disc_t = depth, now

    def take(self, now):
        if now > self.cont_t:
            self.cont = min(Fraction(self.depth), self.cont + (now - self.cont_t) / self.period)
            self.cont_t = now
        if now > self.disc_t:
            n = int((now - self.disc_t) / self.period)
            self.disc = min(self.depth, self.disc + n)
            self.disc_t = now if self.disc == self.depth else self.disc_t + n * self.period
        a, b = self.cont >= 1, self.disc >= 1
        assert a == b, f"rate-limit decision depends on the refill granularity ({float(self.cont)} tokens)"
        if a:
            self.cont -= 1
            self.disc -= 1
        return a


class RateLimits:
    """docs/slow-path.md, "Rate limits": per destination (one token per
    icmp_target_interval_ms, depth icmp_target_burst; fragmentation needed and
    Packet Too Big exempt), then per worker (icmp_rate_per_s, depth
    icmp_burst), in the packets' own clock.
    CHOICE: an exempt error takes no token from its destination's bucket (as
    in Linux, where those types skip the per-peer check altogether)."""

    def __init__(self, s):
        self.s = s
        self.dest = {}
        self.worker = None
        self.spent = set()  # destinations whose token was taken by an error the worker refused

    def allow(self, now, dst, exempt):
        now = Fraction(now)
        if self.worker is None:
            self.worker = Bucket(Fraction(1, self.s["icmp_rate_per_s"]), self.s["icmp_burst"], now)
        if not exempt:
            # Whether the destination's token is given back when the worker
            # refuses is not specified: no case may depend on it.
            assert dst not in self.spent, f"{dst}: outcome depends on an unspecified detail"
            b = self.dest.setdefault(dst, Bucket(Fraction(self.s["icmp_target_interval_ms"], 1000),
                                                 self.s["icmp_target_burst"], now))
            if not b.take(now):
                return False
        if not self.worker.take(now):
            if not exempt:
                self.spent.add(dst)
            return False
        return True


class Case:
    def __init__(self, config):
        self.config = textwrap.dedent(config).lstrip()
        cfg = tomllib.loads(self.config)
        self.burst = cfg.get("engine", {}).get("burst_size", 32)
        self.slow = {**SLOW_DEFAULTS, **cfg.get("slow_path", {})}
        self.ports = {p["name"]: p for p in cfg["ports"]}
        self.port_order = [p["name"] for p in cfg["ports"]]
        self.l3 = {n["name"]: n for n in cfg.get("l3_networks", [])}
        self.l2 = {n["name"]: n for n in cfg.get("l2_networks", [])}
        self.nets = {**self.l3, **self.l2}
        self.net_order = [n["name"] for n in cfg.get("l3_networks", []) + cfg.get("l2_networks", [])]
        self.trunks = {t["name"]: t for t in cfg.get("trunked_networks", [])}
        self.rx_list = []
        self.clock = T0
        self.tick = Decimal("0.001")
        self.learned = {}          # net -> {ip: mac} taught during the case
        self.expect_rate_limited = False
        self._result = None
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
        assert set(self.slow) == set(SLOW_DEFAULTS), "unknown [slow_path] setting"

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

    # -- what the config says about cnfwd's own addresses ---------------------

    def mac(self, port):
        return self.ports[port]["mac"]

    def gw4(self, net):
        """The network's IPv4 gateway address (default: first host), or None."""
        n = self.l3[net]
        if "ipv4_gateway" in n:
            return n["ipv4_gateway"]
        if "ipv4_connected_prefix" in n:
            return str(ipaddress.ip_network(n["ipv4_connected_prefix"])[1])
        return None

    def gw6(self, net):
        """The network's IPv6 gateway address (default: prefix + 1), or None."""
        n = self.l3[net]
        if "ipv6_gateway" in n:
            return str(ipaddress.IPv6Address(n["ipv6_gateway"]))
        if "ipv6_connected_prefix" in n:
            return str(ipaddress.ip_network(n["ipv6_connected_prefix"])[1])
        return None

    def ll(self, port):
        """The port's link-local address."""
        return link_local(self.mac(port))

    def tags(self, port, net):
        """The tag of frames cnfwd sends on `net` out of `port`: the network's
        VLAN, PCP 0, DEI 0 on a trunk; none on an access port."""
        vlan = self.attached_vlans(port)[net]
        return () if vlan is None else (q(vlan),)

    # -- the frames cnfwd sends, from the config (builders above) ------------

    def arp_reply(self, port, net, req):
        """The ARP reply to `req` (a scapy ARP request for the gateway)."""
        assert req.pdst == self.gw4(net)
        f = arp_reply_frame(self.mac(port), self.gw4(net), req, *self.tags(port, net))
        return Tx(port, net, bytes(f), "answer", "arp_replies_sent")

    def na_reply(self, port, net, req, eth_src):
        """The NA answering NS `req` (scapy IPv6/NS) whose Ethernet source was
        eth_src: to the NS's source (ff02::1 when it is ::, S=0 then); Ethernet
        dst = the source link-layer option, else the NS's Ethernet source,
        33:33:00:00:00:01 for ff02::1."""
        r = IPv6(bytes(req))
        target = r[ICMPv6ND_NS].tgt
        assert target in (self.gw6(net), self.ll(port))
        if r.src == "::":
            dst, edst, solicited = "ff02::1", ALL_NODES_MAC, False
        else:
            dst, solicited = r.src, True
            edst = r[ICMPv6NDOptSrcLLAddr].lladdr if ICMPv6NDOptSrcLLAddr in r else eth_src
        f = na_frame(self.mac(port), edst, target, dst, target, solicited, *self.tags(port, net))
        return Tx(port, net, bytes(f), "answer", "na_sent")

    def echo_reply(self, req, port, net, mac):
        """The echo reply to `req`, routed to `mac` out `port` on `net` (the
        route to the requester, written by the case)."""
        rep = echo_reply6(req) if isinstance(req, IPv6) or IPv6 in req else echo_reply4(req)
        f = eth(self.mac(port), mac, *self.tags(port, net)) / rep
        return Tx(port, net, bytes(f), "answer", "echo_replies_sent")

    def err(self, in_net, bad, cause, port, net, mac, mtu=None, lazy=False):
        """The ICMP error about `bad` (the offending IP packet as received, a
        scapy IP or IPv6 packet without link padding), from the gateway of the
        network it arrived on (`in_net`), for `cause` (ICMP_ERRORS), routed to
        its source: out `port` on `net` to `mac` (the route, by the case).
        lazy: build the frame only if the rate limits let it out."""
        bad = bytes(bad)
        v6 = bad[0] >> 4 == 6
        if cause == "unresolved":
            # docs/slow-path.md: a packet held for resolution is quoted as it
            # was about to leave, TTL / hop limit already spent (Linux
            # decrements in ip_forward before the neighbour output fails).
            bad = bytearray(bad)
            if v6:
                bad[7] -= 1
            else:
                ihl = (bad[0] & 0x0F) * 4
                bad[8] -= 1
                bad[10:12] = b"\0\0"
                bad[10:12] = checksum(bytes(bad[:ihl])).to_bytes(2, "big")
            bad = bytes(bad)
        (t4, c4), (t6, c6) = ICMP_ERRORS[cause]
        if v6:
            src, dst = self.gw6(in_net), str(ipaddress.IPv6Address(bad[8:24]))
        else:
            src, dst = self.gw4(in_net), str(ipaddress.IPv4Address(bad[12:16]))

        def build():
            p = icmp6_error(src, dst, t6, c6, bad, mtu) if v6 else icmp4_error(src, dst, t4, c4, bad, mtu)
            return bytes(eth(self.mac(port), mac, *self.tags(port, net), type=0x86DD if v6 else 0x0800) / Raw(p))

        return Tx(port, net, build if lazy else build(), "gen", "icmp_errors_sent", err_to=dst,
                  exempt=cause == "too_big")

    def resolution(self, port, net, addr):
        """A resolution of next hop `addr` on `net` (out `port`): its request
        frame (ARP request or NS, from the network's gateway address).
        CHOICE: the repeated requests count in arp_requests_sent / ns_sent
        like the first (probes_sent is for re-probing known entries); the
        timers start at the capture timestamp of the packet that started the
        resolution; on failure the held packets get their errors in the order
        they came, at the failure time (for the rate limits)."""
        tags = self.tags(port, net)
        if ":" in addr:
            req = ns_frame(self.mac(port), self.gw6(net), addr, *tags)
        else:
            req = arp_request_frame(self.mac(port), self.gw4(net), addr, *tags)
        return Resolution(port, net, addr, req)

    def announcements(self):
        """docs/slow-path.md, "Announcements": for each port in configuration
        order, each L3 network it carries in configuration order: a gratuitous
        ARP if the network has an IPv4 gateway, then an unsolicited NA if it has
        an IPv6 gateway.
        CHOICE: announcements count in announcements_sent only (not in
        arp_requests_sent or na_sent)."""
        res = []
        if not self.slow["announce"]:
            return res
        for p in self.port_order:
            for net in self.attached_vlans(p):
                if net not in self.l3:
                    continue
                tags = self.tags(p, net)
                if self.gw4(net):
                    res.append(Tx(p, net, bytes(garp_frame(self.mac(p), self.gw4(net), *tags)), "gen",
                                  "announcements_sent"))
                if self.gw6(net):
                    g = self.gw6(net)
                    res.append(Tx(p, net, bytes(na_frame(self.mac(p), ALL_NODES_MAC, g, "ff02::1", g, False, *tags)),
                                  "gen", "announcements_sent"))
        return res

    # -- listing the input ----------------------------------------------------

    def rx(self, port, frame, net=None, drop=None, tx=(), gen=(), hold=None, answers=None, count=(), learn=None):
        """A frame arriving on `port`. `net`: the network it is classified to
        (None when dropped before classification). Exactly one of `drop`
        (reason), `tx` (list of out(...) / answers) or `hold` (a Hold: the
        packet waits for a resolution) says what becomes of it.
        gen: frames cnfwd originates because of it (ICMP errors, which the rate
        limits may refuse). answers: the Resolution this frame completes (its
        held packets leave at once). count: other slow_path counters it adds
        to (e.g. icmp_suppressed). learn: (net, ip, mac) a neighbour it teaches
        (neighbors_learned).
        CHOICE: neighbors_learned counts entries that get a MAC from the wire:
        created from an ARP request / NS addressed to cnfwd, or completed by
        the answer to cnfwd's own request. A static neighbour asking is not
        learned (static entries are never overwritten) and counts nothing;
        neither does refreshing an entry that already has a MAC."""
        assert port in self.ports and "rx_pcap" in self.ports[port], port
        assert sum([drop is not None, bool(tx), hold is not None]) == 1, "one of drop, tx, hold"
        if drop is not None:
            assert drop in REASONS, drop
            assert (net is None) == (drop in PRE_CLASSIFY), (drop, net)
        else:
            assert net is not None
        for name in count:
            assert name in SLOW_COUNTERS, name
        frame = bytes(frame)
        if net is not None:
            attached = self.attached_vlans(port)
            assert net in attached, (port, net)
            tags, _ = tags_of(frame)
            if attached[net] is not None:
                assert tags and tags[0][1] == attached[net], (port, net, tags)
        if learn is not None:
            self.learned.setdefault(learn[0], {})[learn[1]] = learn[2]
        self.clock += self.tick
        self.rx_list.append(Rx(port, frame, self.clock, net, drop, list(tx), list(gen), hold, answers,
                               tuple(count), learn))

    def advance(self, seconds):
        """Frames listed after this call arrive `seconds` later (capture
        timestamps are cnfwd's clock in replay)."""
        self.clock += Decimal(seconds)

    # -- derived outputs ------------------------------------------------------

    def bursts(self):
        """README "Replay order": ports in config order, at most burst_size
        frames per port per round, each burst processed to completion."""
        queues = {p: [r for r in self.rx_list if r.port == p] for p in self.port_order}
        order = []
        while any(queues.values()):
            for p in self.port_order:
                if queues[p]:
                    order.append(queues[p][: self.burst])
                    queues[p] = queues[p][self.burst:]
        return order

    def processing_order(self):
        return [r for b in self.bursts() for r in b]

    def _check_tx(self, t: Tx, data: bytes):
        attached = self.attached_vlans(t.port)
        assert t.net in attached, (t.port, t.net)
        tags, _ = tags_of(data)
        if attached[t.net] is not None:  # trunk: egress tag of the network
            assert tags and tags[0] == (0x8100, attached[t.net]), (t.port, tags)
            if t.kind not in ("fwd", "frag"):
                assert pcp_of_first_tag(data) == 0 and not data[14] & 0x10, "cnfwd's frames: PCP 0, DEI 0"
        if t.net in self.l3:
            assert data[6:12] == mac_bytes(self.mac(t.port)), t.port
            if attached[t.net] is None:
                assert not tags, ("access egress is untagged", t.port)
            if t.kind in ("fwd", "frag"):
                known = [nb["mac"] for nb in self.l3[t.net].get("neighbors", [])]
                known += list(self.learned.get(t.net, {}).values())
                assert data[0:6] in {mac_bytes(m) for m in known}, ("dst is not a neighbour of", t.net)
        if t.kind not in ("fwd", "frag"):
            check_wellformed(data)

    def simulate(self):
        """Runs the case's fates in replay order: announcements first, then
        every burst (forwarded frames, answers, errors through the rate
        limits, holds and releases), then, the input over, the clock runs on
        through the retries and failures of the resolutions still waiting.
        Returns per-port output, per-frame fates and counters."""
        if self._result is not None:
            return self._result
        s = self.slow
        outputs = {p: [] for p in self.port_order}
        fate = {}        # id(rx) -> drop reason, or None when sent
        copies = {}      # id(rx) -> frames sent for it
        generated = []   # (Tx) frames cnfwd originated
        sent = []        # (Tx) every frame sent
        counters = dict.fromkeys(SLOW_COUNTERS, 0)
        limits = RateLimits(s)
        timers = []      # heap of (due, seq, what, resolution)
        seq = [0]
        retry = Decimal(s["neighbor_retry_ms"]) / 1000
        held_total = [0]

        def emit(t: Tx, ts, burst_ports=None, slow=True):
            data = t.data()
            self._check_tx(t, data)
            if burst_ports is not None:
                if slow:
                    burst_ports.add(t.port)
                else:
                    # CHOICE: within one burst, what the slow path sends leaves
                    # after what the fast path forwards on the same port. No
                    # case depends on it: a forwarded frame never follows a
                    # slow-path frame on a port within a burst.
                    assert t.port not in burst_ports, "case depends on fast/slow order within a burst"
            outputs[t.port].append((ts, data))
            sent.append(t)
            if t.kind == "gen":
                generated.append(t)
            if t.counter:
                counters[t.counter] += 1

        def send_error(t, ts, burst_ports):
            if limits.allow(ts, t.err_to, t.exempt):
                emit(t, ts, burst_ports)
            else:
                counters["icmp_rate_limited"] += 1

        def schedule(due, what, res):
            seq[0] += 1
            heapq.heappush(timers, (due, seq[0], what, res))

        first_ts = self.rx_list[0].ts if self.rx_list else T0
        for t in self.announcements():
            emit(t, first_ts)
        bursts = self.bursts()
        last_ts = None
        for burst in bursts:
            burst_ports = set()
            for r in burst:
                if timers:
                    # CHOICE (spec silent on when timers run inside a replay):
                    # no case has a retry or failure due while input remains.
                    assert timers[0][0] > r.ts, "a resolution timer falls inside the input"
                if (r.hold or r.gen or r.answers) and last_ts is not None:
                    assert r.ts >= last_ts, "slow-path clock runs backwards: list frames in replay order"
                last_ts = r.ts if last_ts is None else max(last_ts, r.ts)
                copies[id(r)] = []
                if r.drop is not None:
                    fate[id(r)] = r.drop
                for t in r.tx:
                    emit(t, r.ts, burst_ports, slow=t.kind not in ("fwd", "frag"))
                    copies[id(r)].append(t)
                if r.tx:
                    fate[id(r)] = None
                if r.hold is not None:
                    res = r.hold.res
                    assert res.state in ("new", "incomplete"), "hold after the resolution ended"
                    assert len(res.held) < s["neighbor_hold_packets"] and held_total[0] < s["neighbor_hold_total"], \
                        "the hold is full: neighbor_hold_full"
                    if res.state == "new":
                        res.state, res.start = "incomplete", r.ts
                        emit(Tx(res.port, res.net, res.request, "gen", res.counter), r.ts, burst_ports)
                        for k in range(1, s["neighbor_tries"]):
                            schedule(r.ts + k * retry, "retry", res)
                        schedule(r.ts + s["neighbor_tries"] * retry, "fail", res)
                    res.held.append(r)
                    held_total[0] += 1
                    counters["packets_held"] += 1
                for g in r.gen:
                    if g.err_to is not None:
                        send_error(g, r.ts, burst_ports)
                    else:
                        emit(g, r.ts, burst_ports)
                for name in r.count:
                    counters[name] += 1
                if r.learn is not None:
                    counters["neighbors_learned"] += 1
                if r.answers is not None:
                    res = r.answers
                    assert res.state == "incomplete", "answer to no resolution"
                    res.state = "answered"
                    timers = [x for x in timers if x[3] is not res]
                    heapq.heapify(timers)
                    # The held packets leave in the order they came, before
                    # any later packet.
                    for h in res.held:
                        assert h.hold.fwd is not None, "a released packet without its forwarded frame"
                        emit(h.hold.fwd, r.ts, burst_ports)
                        copies[id(h)].append(h.hold.fwd)
                        fate[id(h)] = None
                        counters["packets_released"] += 1
                    held_total[0] -= len(res.held)
        # End of input: the clock runs on until every resolution has finished.
        dues = [x[0] for x in timers]
        assert len(dues) == len(set(dues)), "two timers due at the same instant"
        while timers:
            due, _, what, res = heapq.heappop(timers)
            if what == "retry":
                emit(Tx(res.port, res.net, res.request, "gen", res.counter), due)
            else:
                res.state = "failed"
                for h in res.held:
                    fate[id(h)] = "neighbor_unresolved"
                    if h.hold.err is not None:
                        send_error(h.hold.err, due, None)
                held_total[0] -= len(res.held)
        if not self.expect_rate_limited:
            assert counters["icmp_rate_limited"] == 0, "an error was rate-limited in a case that does not expect it"
        for r in self.rx_list:
            assert id(r) in fate, "a frame without a fate"
        self._result = (outputs, fate, copies, generated, sent, counters)
        return self._result

    def stats(self):
        outputs, fate, copies, generated, sent, counters = self.simulate()
        ports = {p: {"rx_packets": 0, "rx_bytes": 0, "tx_packets": 0, "tx_bytes": 0, "drops": {}}
                 for p in self.port_order}
        nets = {n: {"rx_packets": 0, "tx_packets": 0, "drops": {}} for n in self.net_order}
        drops = {}

        def bump(d, k):
            d[k] = d.get(k, 0) + 1

        replicated = fragmented = fragments = 0
        for r in self.rx_list:
            ports[r.port]["rx_packets"] += 1
            ports[r.port]["rx_bytes"] += len(r.frame)
            if r.net is not None:
                nets[r.net]["rx_packets"] += 1
            reason = fate[id(r)]
            if reason:
                bump(ports[r.port]["drops"], reason)
                bump(drops, reason)
                if r.net is not None:
                    bump(nets[r.net]["drops"], reason)
            pieces = [t for t in copies[id(r)] if t.kind == "frag"]
            replicated += max(0, len(copies[id(r)]) - len(pieces) - 1)
            if pieces:
                fragmented += 1
                fragments += len(pieces)
        for t in sent:
            ports[t.port]["tx_packets"] += 1
            ports[t.port]["tx_bytes"] += len(t.data())
            nets[t.net]["tx_packets"] += 1
        for d in [drops] + [v["drops"] for v in ports.values()] + [v["drops"] for v in nets.values()]:
            items = sorted(d.items())
            d.clear()
            d.update(items)
        totals = {
            "rx_packets": len(self.rx_list),
            "tx_packets": len(sent),
            "replicated": replicated,
            "generated": len(generated),
            "fragmented": fragmented,
            "fragments": fragments,
            "dropped": sum(drops.values()),
        }
        assert totals["rx_packets"] + replicated + totals["generated"] + fragments - fragmented \
            == totals["tx_packets"] + totals["dropped"]
        slow = {k: v for k, v in counters.items() if v}
        return {"ports": ports, "networks": nets, "drops": drops, "totals": totals, "slow_path": slow}

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
        outputs = self.simulate()[0]
        for p in self.port_order:
            pcap(folder / f"expected-{p}.pcap", outputs[p])
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
    """IPv4 routing between two access ports (two L3 networks, one VRF, connected routes and static neighbours): MACs rewritten, TTL - 1, both directions, a hairpin back to the ingress network and an unrouted destination (net unreachable back to the sender)."""
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
    bad = udp4("10.1.0.10", "10.3.0.30")
    c.rx("app", eth(H10, P1) / bad, net="app", drop="no_route",
         gen=[c.err("app", bad, "no_route", "app", "app", H10)])
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
    bad = udp4("10.2.0.20", "192.0.2.1")
    c.rx("db", eth(H20, P2) / bad, net="db", drop="no_route", gen=[c.err("db", bad, "no_route", "db", "db", H20)])
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
    """Tagged frames from a trunk (VLANs 100 and 200) routed to an access port: the tag is removed whatever its PCP/DEI, only the datagram leaves: the padding after the IP packet is not copied out (64 -> 46 and 60 -> 44 bytes; re-padding is the NIC's); a destination on VLAN 200 without a known MAC is resolved there (ARP requests tagged 200, no answer: host unreachable back on VLAN 100)."""
    c = Case(TRUNK_ACCESS_CONFIG.replace("{trunk_rx}", 'rx_pcap = "in-trunk.pcap"\n    ')
             .replace("{core_rx}", ""))
    c.rx("trunk", eth(RED_H, P1, q(100)) / udp4("10.1.0.10", "198.51.100.1"), net="red",
         tx=[out("core", "core", eth(P2, CORE_R) / udp4("10.1.0.10", "198.51.100.1", ttl=63))])
    c.rx("trunk", eth(BLUE_H, P1, q(200)) / tcp4("10.2.0.20", "10.9.0.254"), net="blue",
         tx=[out("core", "core", eth(P2, CORE_R) / tcp4("10.2.0.20", "10.9.0.254", ttl=63))])
    c.rx("trunk", eth(RED_H, P1, q(100, pcp=5, dei=1)) / icmp4("10.1.0.10", "203.0.113.7"), net="red",
         tx=[out("core", "core", eth(P2, CORE_R) / icmp4("10.1.0.10", "203.0.113.7", ttl=63))])
    # 64-byte tagged frame: 18 + 20 + 8 + 4 data + 14 padding; leaves as the
    # 46 bytes of its Ethernet header and datagram.
    fill = pad(14)
    f_in = eth(BLUE_H, P1, q(200)) / udp4("10.2.0.20", "198.51.100.2", data=b"abcd") / fill
    f_out = eth(P2, CORE_R) / udp4("10.2.0.20", "198.51.100.2", ttl=63, data=b"abcd")
    assert (len(f_in), len(f_out)) == (64, 46)
    c.rx("trunk", f_in, net="blue", tx=[out("core", "core", f_out)])
    # 60-byte tagged minimum frame: 18 + 20 + 8 + 2 data + 12 padding; leaves as 44 bytes.
    fill = pad(12, seed=0x00)
    f_in = eth(RED_H, P1, q(100, pcp=3)) / udp4("10.1.0.10", "198.51.100.3", data=b"hi") / fill
    f_out = eth(P2, CORE_R) / udp4("10.1.0.10", "198.51.100.3", ttl=63, data=b"hi")
    assert (len(f_in), len(f_out)) == (60, 44)
    c.rx("trunk", f_in, net="red", tx=[out("core", "core", f_out)])
    # No MAC for 10.2.0.99: ARP requests on blue (VLAN 200, PCP 0 whatever the
    # packet's), the packet held; no answer: host unreachable from red's gateway.
    res = c.resolution("trunk", "blue", "10.2.0.99")
    bad = udp4("10.1.0.10", "10.2.0.99")
    c.rx("trunk", eth(RED_H, P1, q(100, pcp=4)) / bad, net="red",
         hold=Hold(res, None, c.err("red", bad, "unresolved", "trunk", "red", RED_H)))
    c.rx("trunk", eth(BLUE_H, P1, q(200, pcp=7)) / tcp4("10.2.0.20", "192.0.2.80", dport=80, flags="PA",
                                                       data=b"payload" * 20), net="blue",
         tx=[out("core", "core", eth(P2, CORE_R) / tcp4("10.2.0.20", "192.0.2.80", ttl=63, dport=80,
                                                        flags="PA", data=b"payload" * 20))])
    return c


@case("03-access-to-trunk")
def access_to_trunk():
    """Untagged frames from an access port routed onto a trunk: the egress network's 802.1Q tag is pushed with PCP 0 and DEI 0, including for a priority-tagged (VID 0, PCP 0) ingress; a 60-byte padded frame leaves as its header, the tag and the datagram (47 bytes, the padding not copied out); a destination without a known MAC is resolved on its VLAN (no answer: host unreachable to the remote sender, via the default route)."""
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
    # 60-byte minimum frame: 14 + 20 + 8 + 1 data + 17 padding; leaves as 47 bytes.
    fill = pad(17, seed=0x40)
    f_in = eth(CORE_R, P2) / udp4("198.51.100.4", "10.1.0.10", data=b"!") / fill
    f_out = eth(P1, RED_H, q(100)) / udp4("198.51.100.4", "10.1.0.10", ttl=63, data=b"!")
    assert (len(f_in), len(f_out)) == (60, 47)
    c.rx("core", f_in, net="core", tx=[out("trunk", "red", f_out)])
    c.rx("core", eth(CORE_R, P2) / udp4("198.51.100.1", "10.2.0.20", data=b"z" * 1000), net="core",
         tx=[out("trunk", "blue", eth(P1, BLUE_H, q(200)) / udp4("198.51.100.1", "10.2.0.20", ttl=63,
                                                                 data=b"z" * 1000))])
    # No MAC for 10.1.0.99 (listed last: its ARP request leaves the trunk after
    # the frames forwarded there in the same burst).
    bad = udp4("198.51.100.1", "10.1.0.99")
    c.rx("core", eth(CORE_R, P2) / bad, net="core",
         hold=Hold(c.resolution("trunk", "red", "10.1.0.99"), None,
                   c.err("core", bad, "unresolved", "core", "core", CORE_R)))
    return c


@case("04-trunk-vlan-rewrite")
def trunk_vlan_rewrite():
    """Trunk to trunk routing rewrites the VLAN: hairpin on one trunk (VLAN 100 <-> 200) and between two trunks (VLAN 100/200 <-> 300), with PCP and DEI copied from the ingress tag; the net unreachable for an unrouted destination leaves with PCP 0."""
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
    bad = udp4("10.1.0.10", "10.4.0.40")
    c.rx("trunk1", eth(HA, P1, q(100, pcp=6)) / bad, net="a", drop="no_route",
         gen=[c.err("a", bad, "no_route", "trunk1", "a", HA)])
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
    """Two VRFs reuse the same prefixes: the same destination is routed to each VRF's own neighbour and port (red and blue core), and a destination routed only in red is no_route in blue (net unreachable routed in blue); an unknown neighbour is resolved in blue only."""
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
    bad = tcp4("10.1.0.10", "203.0.113.9")
    c.rx("workload", eth(BA, P1, q(200)) / bad, net="blue-app", drop="no_route",
         gen=[c.err("blue-app", bad, "no_route", "workload", "blue-app", BA)])
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
    bad = udp4("10.10.0.254", "10.1.0.99")
    c.rx("blue-core", eth(BC, P3) / bad, net="blue-core",
         hold=Hold(c.resolution("workload", "blue-app", "10.1.0.99"), None,
                   c.err("blue-core", bad, "unresolved", "blue-core", "blue-core", BC)))
    return c


@case("06-ipv6-routing")
def ipv6_routing():
    """IPv6 routing: connected and static (via next hop) routes, hop limit - 1, a packet with hop-by-hop and routing extension headers forwarded unchanged otherwise, hop limit 2 forwarded with 1, an unrouted destination (ICMPv6 no route), an unknown neighbour (neighbour solicitations, no answer: address unreachable), and replies."""
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
    bad = udp6(A, "2001:db8:200::1")
    c.rx("app", eth(H10, P1) / bad, net="app", drop="no_route", gen=[c.err("app", bad, "no_route", "app", "app", H10)])
    bad = udp6(A, "2001:db8:ff::99")
    c.rx("app", eth(H10, P1) / bad, net="app",
         hold=Hold(c.resolution("core", "core", "2001:db8:ff::99"), None,
                   c.err("app", bad, "unresolved", "app", "app", H10)))

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
    ipv6_connected_prefix = "2001:db8:1::/64"{app_extra}
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


def dual_config(routes="", core_extra="", core_rx=False, extra_networks="", extra_ports="", head="", app_extra=""):
    """DUAL_CONFIG filled in; `head`: sections before it ([engine], [slow_path])."""
    return textwrap.indent(textwrap.dedent(head), "    ") + (DUAL_CONFIG.replace("{routes}", routes).replace("{core_extra}", core_extra)
            .replace("{app_extra}", app_extra)
            .replace("{core_rx}", 'rx_pcap = "in-core.pcap"\n    ' if core_rx else "")
            .replace("{extra_networks}", extra_networks).replace("{extra_ports}", extra_ports))


@case("09-ttl")
def ttl():
    """TTL and hop limit: 1 and 0 are dropped ttl_expired with a time exceeded back to the sender (quoting the packet as received), 2 is forwarded as 1; the route lookup comes first (TTL 1 to an unrouted destination is no_route with net unreachable, an echo request with TTL 1 to a gateway address is answered)."""
    c = Case(dual_config(routes=DEFAULT_ROUTES.replace('"0.0.0.0/0"', '"198.51.100.0/24"')
                         .replace('"::/0"', '"2001:db8:100::/48"')))
    A, A6 = "10.1.0.10", "2001:db8:1::10"

    def expired(bad, cause="ttl"):
        c.rx("app", eth(APP_H, P1) / bad, net="app", drop="ttl_expired" if cause == "ttl" else cause,
             gen=[c.err("app", bad, cause, "app", "app", APP_H)])

    for t in [64, 2]:
        c.rx("app", eth(APP_H, P1) / udp4(A, "198.51.100.1", ttl=t), net="app",
             tx=[out("core", "core", eth(P2, CORE_H) / udp4(A, "198.51.100.1", ttl=t - 1))])
    for t in [1, 0]:
        expired(udp4(A, "198.51.100.1", ttl=t))
    expired(icmp4(A, "10.9.0.254", ttl=1))
    c.rx("app", eth(APP_H, P1) / tcp4(A, "10.9.0.254", ttl=2), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / tcp4(A, "10.9.0.254", ttl=1))])
    for h in [64, 2]:
        c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:100::1", hlim=h), net="app",
             tx=[out("core", "core", eth(P2, CORE_H) / udp6(A6, "2001:db8:100::1", hlim=h - 1))])
    for h in [1, 0]:
        expired(udp6(A6, "2001:db8:100::1", hlim=h))
    expired(icmp6(A6, "2001:db8:9::fe", hlim=1))
    # Route lookup before the TTL check.
    expired(udp4(A, "203.0.113.1", ttl=1), "no_route")
    expired(udp6(A6, "2001:db8:200::1", hlim=1), "no_route")
    # Addressed to cnfwd: no TTL check, the echo reply has TTL / hop limit 64.
    for req in [icmp4(A, "10.1.0.1", ttl=1), icmp6(A6, "2001:db8:1::1", hlim=1)]:
        c.rx("app", eth(APP_H, P1) / req, net="app", tx=[c.echo_reply(req, "app", "app", APP_H)])
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
    """A VRF without a default route: destinations outside its connected prefixes and static routes are dropped no_route with a net unreachable / ICMPv6 no route back to the sender (routed: to a remote sender via its static route), none about a packet to 255.255.255.255; connected and statically routed destinations are forwarded. A packet to 255.255.255.255 is a martian destination: dropped before any lookup, never answered."""
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
    for dst in ["8.8.8.8", "172.32.0.1", "10.9.1.254", "10.2.0.1"]:
        bad = udp4("10.1.0.10", dst)
        c.rx("app", eth(APP_H, P1) / bad, net="app", drop="no_route",
             gen=[c.err("app", bad, "no_route", "app", "app", APP_H)])
    # The limited broadcast is never routed (a martian destination), never answered.
    c.rx("app", eth(APP_H, P1) / udp4("10.1.0.10", "255.255.255.255"), net="app", drop="martian_destination")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:100:1::1"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp6(A6, "2001:db8:100:1::1", hlim=63))])
    for dst in ["2001:4860:4860::8888", "2001:db8:101::1", "2001:db8:9:1::fe"]:
        bad = udp6(A6, dst)
        c.rx("app", eth(APP_H, P1) / bad, net="app", drop="no_route",
             gen=[c.err("app", bad, "no_route", "app", "app", APP_H)])
    c.rx("core", eth(CORE_H, P2) / udp4("172.20.1.1", "10.1.0.10"), net="core",
         tx=[out("app", "app", eth(P1, APP_H) / udp4("172.20.1.1", "10.1.0.10", ttl=63))])
    # From remote senders: the errors are routed back through their static routes.
    for bad in [udp4("172.20.1.1", "192.168.1.1"), udp6("2001:db8:100:1::1", "2001:db8:2::10")]:
        c.rx("core", eth(CORE_H, P2) / bad, net="core", drop="no_route",
             gen=[c.err("core", bad, "no_route", "core", "core", CORE_H)])
    return c


@case("12-l3-mtu")
def l3_mtu():
    """Egress network MTU 1400 on a trunk: IP packets of exactly 1400 bytes are forwarded (the tag and Ethernet padding do not count; the padding is not copied out), 1401 bytes and more do not fit: IPv4 with DF and IPv6 are dropped mtu_exceeded, IPv4 with DF gets fragmentation needed with MTU 1400, IPv6 Packet Too Big with MTU 1400, IPv4 without DF is fragmented; TTL expiry is checked before MTU (time exceeded quoting 548 bytes), MTU before the neighbour (an unknown neighbour is resolved, then host unreachable)."""
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
    # Too big without DF: fragmented (case 46 has the details); with DF:
    # fragmentation needed carrying the egress network's MTU.
    for n in [1401, 1500]:
        c.rx("app", eth(APP_H, P1) / big_udp4(A, D, n), net="app",
             tx=frags("uplink", "core", eth(P2, CORE_H, q(400)), big_udp4(A, D, n, ttl=63), 1400))
    for n in [1401, 1500]:
        bad = big_udp4(A, D, n, flags="DF")
        c.rx("app", eth(APP_H, P1) / bad, net="app", drop="mtu_exceeded",
             gen=[c.err("app", bad, "too_big", "app", "app", APP_H, mtu=1400)])
    for n in [1400, 1280]:
        c.rx("app", eth(APP_H, P1) / big_udp6(A6, D6, n), net="app",
             tx=[out("uplink", "core", eth(P2, CORE_H, q(400)) / big_udp6(A6, D6, n, hlim=63))])
    for n in [1401, 1500]:
        bad = big_udp6(A6, D6, n)
        c.rx("app", eth(APP_H, P1) / bad, net="app", drop="mtu_exceeded",
             gen=[c.err("app", bad, "too_big", "app", "app", APP_H, mtu=1400)])
    # 1400-byte IP packet followed by 20 bytes of padding: still fits, and
    # leaves without the padding.
    fill = pad(20)
    c.rx("app", eth(APP_H, P1) / big_udp4(A, D, 1400) / fill, net="app",
         tx=[out("uplink", "core", eth(P2, CORE_H, q(400)) / big_udp4(A, D, 1400, ttl=63))])
    # Order of the checks: TTL before MTU; MTU before the neighbour lookup.
    bad = big_udp4(A, D, 1401, ttl=1, flags="DF")
    c.rx("app", eth(APP_H, P1) / bad, net="app", drop="ttl_expired",
         gen=[c.err("app", bad, "ttl", "app", "app", APP_H)])
    bad = big_udp4(A, "10.9.0.77", 1401, flags="DF")
    c.rx("app", eth(APP_H, P1) / bad, net="app", drop="mtu_exceeded",
         gen=[c.err("app", bad, "too_big", "app", "app", APP_H, mtu=1400)])
    bad = big_udp4(A, "10.9.0.77", 1400)
    c.rx("app", eth(APP_H, P1) / bad, net="app",
         hold=Hold(c.resolution("uplink", "core", "10.9.0.77"), None,
                   c.err("app", bad, "unresolved", "app", "app", APP_H)))
    # The other way, into the MTU 1500 network: 1500 bytes fit there.
    c.rx("uplink", eth(CORE_H, P2, q(400)) / big_udp4(D, A, 1400), net="core",
         tx=[out("app", "app", eth(P1, APP_H) / big_udp4(D, A, 1400, ttl=63))])
    c.rx("uplink", eth(CORE_H, P2, q(400)) / big_udp6(D6, A6, 1400), net="core",
         tx=[out("app", "app", eth(P1, APP_H) / big_udp6(D6, A6, 1400, hlim=63))])
    return c


@case("13-longest-prefix")
def longest_prefix():
    """Longest-prefix match: /0, /8, /16, /24 and /32 IPv4 routes and /32, /48, /64, /128 IPv6 routes via different next hops; each destination leaves towards the next hop of its most specific route, and a static /25 inside a connected /24 wins over the connected route (app checks sources loosely, since a source in that /25 is routed back through core); an IPv6 destination outside every route gets ICMPv6 no route."""
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
        source_check = "loose"
        neighbors = [
          { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
          { ip = "10.1.0.200", mac = "02:aa:00:00:01:c8" },
          { ip = "2001:db8:1::10", mac = "02:aa:00:00:01:10" },
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
    bad = udp6("2001:db8:1::10", "2001:db9::1")
    c.rx("app", eth(APP_H, P1) / bad, net="app", drop="no_route",
         gen=[c.err("app", bad, "no_route", "app", "app", APP_H)])
    return c


@case("14-static-next-hop")
def static_next_hop():
    """Static routes: a route with only next_hop leaves on the connected network holding the next hop, with the next hop's MAC; a route with only network uses the destination itself as the next hop (its MAC from that network's neighbours, else an ARP request for it there, from that network's gateway); a route with both uses next_hop on that network; an unrouted destination gets net unreachable."""
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
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:173::5"), net="app",
         tx=[out("dmz", "dmz", eth(P3, "02:dd:00:00:06:05") / udp6(A6, "2001:db8:173::5", hlim=63))])
    # next_hop and network: next hop 10.50.0.254 on dmz.
    c.rx("app", eth(APP_H, P1) / udp4(A, "172.18.3.4"), net="app",
         tx=[out("dmz", "dmz", eth(P3, "02:dd:00:00:00:fe") / udp4(A, "172.18.3.4", ttl=63))])
    bad = udp4(A, "172.19.0.1")
    c.rx("app", eth(APP_H, P1) / bad, net="app", drop="no_route",
         gen=[c.err("app", bad, "no_route", "app", "app", APP_H)])
    # network only, no static neighbour: 172.17.0.7 is asked for on dmz (listed
    # last: the request leaves dmz after the frames forwarded there).
    bad = udp4(A, "172.17.0.7")
    c.rx("app", eth(APP_H, P1) / bad, net="app",
         hold=Hold(c.resolution("dmz", "dmz", "172.17.0.7"), None,
                   c.err("app", bad, "unresolved", "app", "app", APP_H)))
    return c


@case("15-to-gateway")
def to_gateway():
    """Gateway addresses of the VRF: echo requests to them are answered (the default gateway, first host of the prefix, 10.1.0.1 and 2001:db8:1::1, of the ingress network; the explicit ipv4_gateway/ipv6_gateway of another network, where .1 is then an ordinary host; TTL 1 too), anything else to them is dropped to_gateway; a gateway address of another VRF is routed normally; each port announces its networks' gateways."""
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

    def ping(port, mac, port_mac, net, req):
        """An echo request to a gateway address: the reply goes back to the
        requester (a static neighbour of the ingress network)."""
        c.rx(port, eth(mac, port_mac) / req, net=net, tx=[c.echo_reply(req, port, net, mac)])

    ping("app", APP_H, P1, "app", icmp4(A, "10.1.0.1"))
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.1.0.1", dport=53), net="app", drop="to_gateway")
    ping("app", APP_H, P1, "app", icmp6(A6, "2001:db8:1::1"))
    ping("app", APP_H, P1, "app", icmp4(A, "10.9.0.254"))
    c.rx("app", eth(APP_H, P1) / tcp4(A, "10.9.0.254", dport=22), net="app", drop="to_gateway")
    ping("app", APP_H, P1, "app", icmp6(A6, "2001:db8:9::fe"))
    ping("app", APP_H, P1, "app", icmp4(A, "10.1.0.1", ttl=1))
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:9::fe"), net="app", drop="to_gateway")
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
    ping("ext", EH, P3, "ext", icmp4("10.7.0.10", "10.7.0.1"))
    ping("ext", EH, P3, "ext", icmp4("10.7.0.10", "10.8.0.1"))
    c.rx("ext", eth(EH, P3) / tcp4("10.7.0.10", "10.8.0.1"), net="ext", drop="to_gateway")
    for dst in ["10.1.0.1", "10.9.0.254"]:
        c.rx("ext", eth(EH, P3) / icmp4("10.7.0.10", dst), net="ext",
             tx=[out("ext-up", "ext-up", eth(P4, UP) / icmp4("10.7.0.10", dst, ttl=63))])
    return c


@case("16-neighbor-miss")
def neighbor_miss():
    """Next hops without a known MAC are resolved and, with no answer in the capture, given up: a connected destination without a static neighbour, a static route whose next hop has no neighbour, an address that is a neighbour only of another network, hairpins on both ports (IPv4 and IPv6): an ARP request or NS from the egress network's gateway at once, two more a second apart after the input ends, then the held packet is dropped neighbor_unresolved with a host / address unreachable to its sender. Known neighbours are forwarded."""
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
    # Known neighbours first: within a burst the requests leave after the
    # frames forwarded on the same port.
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.9.0.254"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4(A, "10.9.0.254", ttl=63))])
    c.rx("app", eth(APP_H, P1) / udp4(A, "198.51.100.1"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4(A, "198.51.100.1", ttl=63))])
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:9::fe"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp6(A6, "2001:db8:9::fe", hlim=63))])

    def unresolved(port, mac, port_mac, in_net, bad, out_port, out_net, next_hop, back_port, back_mac):
        c.rx(port, eth(mac, port_mac) / bad, net=in_net,
             hold=Hold(c.resolution(out_port, out_net, next_hop), None,
                       c.err(in_net, bad, "unresolved", back_port, in_net, back_mac)))

    # From app; the errors go back to 10.1.0.10 / 2001:db8:1::10 on app.
    for dst, nh in [("10.9.0.20", "10.9.0.20"), ("2001:db8:9::20", "2001:db8:9::20"),
                    ("203.0.113.1", "10.9.0.253"), ("2001:db8:200::1", "2001:db8:9::fd")]:
        bad = udp6(A6, dst) if ":" in dst else udp4(A, dst)
        unresolved("app", APP_H, P1, "app", bad, "core", "core", nh, "app", APP_H)
    # 10.1.0.11 is connected to app (hairpin): asked for on app.
    unresolved("app", APP_H, P1, "app", udp4(A, "10.1.0.11"), "app", "app", "10.1.0.11", "app", APP_H)

    # From core: 10.9.0.10 is connected to core itself (hairpin), not a
    # neighbour there; 2001:db8:1::99 is asked for on app. The errors go back
    # via the core router.
    c.rx("core", eth(CORE_H, P2) / udp4("198.51.100.1", A), net="core",
         tx=[out("app", "app", eth(P1, APP_H) / udp4("198.51.100.1", A, ttl=63))])
    unresolved("core", CORE_H, P2, "core", udp4("198.51.100.1", "10.9.0.10"), "core", "core", "10.9.0.10",
               "core", CORE_H)
    unresolved("core", CORE_H, P2, "core", udp6("2001:db8:9::fe", "2001:db8:1::99"), "app", "app",
               "2001:db8:1::99", "core", CORE_H)
    return c


@case("17-l3-not-for-us")
def l3_not_for_us():
    """Frames an L3 network does not route: ARP goes to the slow path whatever the destination MAC (a request for the gateway is answered, replies are arp_consumed); non-IP EtherTypes (LLDP to its multicast MAC or to the port's MAC, 802.3 length frames) not_ip; broadcast/multicast destination MACs l3_multicast, except the neighbour solicitation for the gateway on its solicited-node group (answered); unicast MACs other than the port's l3_mac_mismatch, with the checks in README order."""
    c = Case(dual_config(routes=DEFAULT_ROUTES))
    A, A6 = "10.1.0.10", "2001:db8:1::10"
    OTHER = "02:00:00:00:09:09"
    # ARP: 10.1.0.10 is a static neighbour, so nothing is learned.
    req = arp_req(APP_H, A, "10.1.0.1")
    c.rx("app", eth(APP_H, BCAST) / req, net="app", tx=[c.arp_reply("app", "app", req)])
    c.rx("app", eth(APP_H, P1) / arp_req(APP_H, A, "10.1.0.1", op=2, hwdst=P1), net="app", drop="arp_consumed")
    # CHOICE: docs/slow-path.md checks no Ethernet destination for ARP (the
    # EtherType is looked at before the MAC), so a reply sent to another
    # station's MAC is consumed like any reply (it refreshes nothing here).
    c.rx("app", eth(APP_H, OTHER) / arp_req(APP_H, A, "10.1.0.20", op=2, hwdst=OTHER), net="app",
         drop="arp_consumed")
    lldp = b"\x02\x07\x04" + bytes.fromhex("02aa00000110") + b"\x04\x02\x07\x31\x06\x02\x00\x78\x00\x00"
    c.rx("app", eth(APP_H, "01:80:c2:00:00:0e", type=0x88CC) / Raw(lldp), net="app", drop="not_ip")
    c.rx("app", eth(APP_H, P1, type=0x88CC) / Raw(lldp), net="app", drop="not_ip")
    c.rx("app", eth(APP_H, P1, type=0x0026) / Raw(b"\x42\x42\x03" + bytes(35)), net="app", drop="not_ip")
    c.rx("app", eth(APP_H, P1, type=0x8137) / Raw(bytes(46)), net="app", drop="not_ip")
    c.rx("app", eth(APP_H, BCAST) / udp4(A, "10.1.0.255", sport=68, dport=67), net="app", drop="l3_multicast")
    c.rx("app", eth(APP_H, BCAST) / udp4(A, "198.51.100.1"), net="app", drop="l3_multicast")
    c.rx("app", eth(APP_H, "01:00:5e:00:00:fb") / udp4(A, "224.0.0.251", ttl=255, sport=5353, dport=5353),
         net="app", drop="l3_multicast")
    # The all-nodes group is accepted for ICMPv6 only; other groups never.
    c.rx("app", eth(APP_H, ALL_NODES_MAC) / udp6(A6, "ff02::1"), net="app", drop="l3_multicast")
    c.rx("app", eth(APP_H, "33:33:00:00:00:fb") / icmp6(A6, "ff02::fb"), net="app", drop="l3_multicast")
    # The NS for the gateway on its solicited-node group is answered (NA to the
    # source link-layer address; 2001:db8:1::10 is static, nothing learned).
    sol = ns(A6, "ff02::1:ff00:1", "2001:db8:1::1", sll=APP_H)
    c.rx("app", eth(APP_H, "33:33:ff:00:00:01") / sol, net="app", tx=[c.na_reply("app", "app", sol, APP_H)])
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
    """Route leaking between VRFs: a static route with network = a network of another VRF reaches it (next hop = destination, neighbour of that network, else asked for there from that network's gateway), in both directions; a VRF without such a route gets no_route for the same destination, and a leaked /32 only leaks that address; errors are routed in the VRF of the network the packet came from."""
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
    bad = udp4("10.1.0.10", "10.200.0.7")
    c.rx("a", eth(HA, P1) / bad, net="app-a",
         hold=Hold(c.resolution("shared", "shared", "10.200.0.7"), None,
                   c.err("app-a", bad, "unresolved", "a", "app-a", HA)))
    bad = udp4("10.1.0.10", "10.3.0.30")
    c.rx("a", eth(HA, P1) / bad, net="app-a", drop="no_route", gen=[c.err("app-a", bad, "no_route", "a", "app-a", HA)])
    c.rx("shared", eth(S5, P2) / udp4("10.200.0.5", "10.1.0.10", sport=5000, dport=40000), net="shared",
         tx=[out("a", "app-a", eth(P1, HA) / udp4("10.200.0.5", "10.1.0.10", ttl=63, sport=5000, dport=40000))])
    c.rx("shared", eth(S6, P2) / udp4("10.200.0.6", "10.3.0.30", sport=5000, dport=40000), net="shared",
         tx=[out("c", "app-c", eth(P3, HC) / udp4("10.200.0.6", "10.3.0.30", ttl=63, sport=5000, dport=40000))])
    bad = udp4("10.200.0.5", "10.2.0.1")
    c.rx("shared", eth(S5, P2) / bad, net="shared", drop="no_route",
         gen=[c.err("shared", bad, "no_route", "shared", "shared", S5)])
    c.rx("c", eth(HC, P3) / udp4("10.3.0.30", "10.200.0.6"), net="app-c",
         tx=[out("shared", "shared", eth(P2, S6) / udp4("10.3.0.30", "10.200.0.6", ttl=63))])
    for dst in ["10.200.0.5", "10.1.0.10"]:
        bad = udp4("10.3.0.30", dst)
        c.rx("c", eth(HC, P3) / bad, net="app-c", drop="no_route", gen=[c.err("app-c", bad, "no_route", "c", "app-c", HC)])
    return c


@case("20-dual-stack-mix")
def dual_stack_mix():
    """Mixed IPv4/IPv6 traffic on a dual-stack trunk (TCP, UDP, ICMP echo, ICMPv6 echo) to an access port and hairpinned to another VLAN of the trunk, and back; padded minimum-size frames leave without their padding (only the datagram is forwarded); L4 checksums (even wrong or zero) and IPv4 fragments are forwarded untouched."""
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
    # Padded minimum frames: the padding is not forwarded.
    to_core(100, HA, tcp4(A, X, flags="A", seq=1, ack=1) / pad(6), tcp4(A, X, ttl=63, flags="A", seq=1, ack=1))
    to_core(200, HB, icmp4(B, X, data=b"") / pad(14, seed=0), icmp4(B, X, ttl=63, data=b""))
    # IPv6 with trailing bytes after the packet: not forwarded either.
    to_core(100, HA, udp6(A6, X6, data=b"") / pad(6), udp6(A6, X6, hlim=63, data=b""))
    # Hairpin on the trunk, VLAN 100 -> 200, both families.
    c.rx("trunk", eth(HA, P1, q(100)) / tcp4(A, B), net="app",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / tcp4(A, B, ttl=63))])
    c.rx("trunk", eth(HA, P1, q(100)) / icmp6(A6, B6), net="app",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / icmp6(A6, B6, hlim=63))])
    c.rx("trunk", eth(HA, P1, q(100)) / udp4(A, B, data=b"") / pad(14, seed=0x10), net="app",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / udp4(A, B, ttl=63, data=b""))])
    # Back from the core: untagged 60-byte frames leave tagged, without padding.
    c.rx("core", eth(R, P2) / tcp4(X, A, sport=443, dport=40001, flags="SA") / pad(6), net="core",
         tx=[out("trunk", "app", eth(P1, HA, q(100)) / tcp4(X, A, ttl=63, sport=443, dport=40001, flags="SA"))])
    c.rx("core", eth(R, P2) / icmp4(X, B, type=0, id=5, data=b"") / pad(18, seed=0), net="core",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / icmp4(X, B, ttl=63, type=0, id=5, data=b""))])
    c.rx("core", eth(R, P2) / icmp6(X6, A6, reply=True), net="core",
         tx=[out("trunk", "app", eth(P1, HA, q(100)) / icmp6(X6, A6, reply=True, hlim=63))])
    c.rx("core", eth(R, P2) / udp6(X6, B6, sport=5000, dport=40000), net="core",
         tx=[out("trunk", "db", eth(P1, HB, q(200)) / udp6(X6, B6, hlim=63, sport=5000, dport=40000))])
    return c


@case("21-no-egress-port")
def no_egress_port():
    """A route to an L3 network that is attached to no port is dropped no_egress_port (IPv4 and IPv6), whether or not the next hop has a MAC there (nothing is asked, no error is sent); a gateway address of that network is still to_gateway."""
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
    # CHOICE: docs/slow-path.md does not say what an unknown next hop on a
    # network attached to no port becomes. A request could go nowhere, so it
    # is not started: no_egress_port (no ICMP error: the error table has no
    # entry for it), as for a known next hop.
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.5.0.11"), net="app", drop="no_egress_port")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "2001:db8:5::11"), net="app", drop="no_egress_port")
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


# ---------------------------------------------------------------------------
# Slow-path cases (docs/slow-path.md). Most use DUAL_CONFIG (app and core
# access ports, dual stack, static neighbours for 10.1.0.10 / 2001:db8:1::10
# and the core router) plus, where a trunk matters, the "tagged" network below
# on a trunk port.
# ---------------------------------------------------------------------------

TAGGED_NET = """
    [[l3_networks]]
    name = "tagged"
    vlan = 300
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "DualStack"
    ipv4_connected_prefix = "10.3.0.0/24"
    ipv6_connected_prefix = "2001:db8:3::/64"
    neighbors = [
      { ip = "10.3.0.30", mac = "02:aa:00:00:03:30" },
      { ip = "2001:db8:3::30", mac = "02:aa:00:00:03:30" },
    ]

    [[trunked_networks]]
    name = "tn"
    vlans = [300]
"""
TRUNK_PORT = """
    [[ports]]
    name = "trunk"
    backend = "pcap"
    mac = "02:00:00:00:03:01"
    mode = "trunk"
    trunked_network = "tn"
    rx_pcap = "in-trunk.pcap"
    tx_pcap = "out-trunk.pcap"
"""
TAGGED_H = "02:aa:00:00:03:30"


def arp_raw(htype=1, ptype=0x0800, hlen=6, plen=4, op=1, sha="02:aa:00:00:01:10", spa=b"\x0a\x01\x00\x0a",
            tha="00:00:00:00:00:00", tpa=b"\x0a\x01\x00\x01"):
    """ARP bytes with any header values (for the malformed ones: scapy's ARP
    picks its address fields from ptype)."""
    sha, tha = mac_bytes(sha).ljust(hlen, b"\x00")[:hlen], mac_bytes(tha).ljust(hlen, b"\x00")[:hlen]
    return Raw(struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + sha + spa.ljust(plen, b"\x00")[:plen]
               + tha + tpa.ljust(plen, b"\x00")[:plen])


@case("27-arp-reply")
def arp_reply():
    """ARP requests for the gateway are answered out the ingress port: reply from the port's MAC to the sender's MAC, 42 bytes (46 on a trunk, 802.1Q, PCP 0, whatever the request's tag, PCP or padding), broadcast or unicast request; the sender is learned (a packet routed to it next uses its MAC) unless it is a static neighbour, and an ARP probe (sender 0.0.0.0) is answered with target 0.0.0.0 and teaches nothing."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_rx=True, extra_networks=TAGGED_NET, extra_ports=TRUNK_PORT))
    A, H20, H30 = "10.1.0.10", "02:aa:00:00:01:20", "02:aa:00:00:01:30"

    def ask(port, net, mac, req, *tags, dst=BCAST, fill=None, learn=None):
        f = eth(mac, dst, *tags) / req
        c.rx(port, f / fill if fill else f, net=net, tx=[c.arp_reply(port, net, req)], learn=learn)

    ask("app", "app", APP_H, arp_req(APP_H, A, "10.1.0.1"))
    # A new host, unicast to the port: learned (stale).
    ask("app", "app", H20, arp_req(H20, "10.1.0.20", "10.1.0.1"), dst=P1, learn=("app", "10.1.0.20", H20))
    # Asking again: answered, already known.
    ask("app", "app", H20, arp_req(H20, "10.1.0.20", "10.1.0.1"))
    # ARP probe (RFC 5227): answered to the sender MAC, target IP 0.0.0.0.
    ask("app", "app", H30, arp_req(H30, "0.0.0.0", "10.1.0.1"))
    # A 60-byte request (18 bytes of padding after the ARP packet): 42-byte reply.
    ask("app", "app", APP_H, arp_req(APP_H, A, "10.1.0.1"), fill=pad(18))
    # The learned MAC is used from the next poll on (core is polled after app).
    c.rx("core", eth(CORE_H, P2) / udp4("198.51.100.1", "10.1.0.20"), net="core",
         tx=[out("app", "app", eth(P1, H20) / udp4("198.51.100.1", "10.1.0.20", ttl=63))])
    # On the trunk: the reply carries VLAN 300 with PCP 0, 802.1Q even when the
    # request came with an 802.1ad tag.
    ask("trunk", "tagged", TAGGED_H, arp_req(TAGGED_H, "10.3.0.30", "10.3.0.1"), q(300, pcp=5))
    ask("trunk", "tagged", TAGGED_H, arp_req(TAGGED_H, "10.3.0.30", "10.3.0.1"), ad(300, pcp=2, dei=1),
        fill=pad(14))
    return c


@case("28-arp-invalid")
def arp_invalid():
    """ARP that is not answered, each counted under its reason in the documented order: not Ethernet/IPv4 or cut short (arp_malformed), Ethernet source != sender MAC (arp_sender_mismatch, before the prefix check), sender outside the IPv4 prefix (arp_sender_outside), requests for other addresses including another network's gateway, a probe for another address and an unknown op (arp_not_for_us); gratuitous ARP and unsolicited replies are arp_consumed and create no entry: a packet to the address that sent one is resolved (ARP request, no answer, host unreachable)."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_rx=True))
    A, H50, OTHER = "10.1.0.10", "02:aa:00:00:01:50", "02:aa:00:00:01:99"
    ip = lambda a: ipaddress.IPv4Address(a).packed  # noqa: E731

    def drop(reason, req, src=APP_H, dst=BCAST):
        c.rx("app", eth(src, dst, type=0x0806) / req, net="app", drop=reason)

    # Malformed: wrong hardware type, IPv6 protocol type (plen 16), hlen 8, cut.
    drop("arp_malformed", arp_raw(htype=6))
    drop("arp_malformed", arp_raw(ptype=0x86DD, plen=16, spa=ipaddress.IPv6Address("2001:db8:1::10").packed,
                                  tpa=ipaddress.IPv6Address("2001:db8:1::1").packed))
    drop("arp_malformed", arp_raw(hlen=8))
    drop("arp_malformed", Raw(bytes(arp_raw())[:20]))
    # Sender MAC != Ethernet source; the mismatch is checked before the prefix.
    drop("arp_sender_mismatch", arp_req(OTHER, A, "10.1.0.1"))
    drop("arp_sender_mismatch", arp_req(OTHER, "10.2.0.5", "10.1.0.1"))
    # Sender outside 10.1.0.0/24 (requests and replies).
    drop("arp_sender_outside", arp_req(APP_H, "10.2.0.5", "10.1.0.1"))
    drop("arp_sender_outside", arp_req(APP_H, "10.2.0.5", "10.1.0.1", op=2, hwdst=P1), dst=P1)
    # Not for cnfwd: another address, the gateway of another network of the
    # VRF, a probe for another address, op 3 (RARP request).
    drop("arp_not_for_us", arp_req(APP_H, A, "10.1.0.77"))
    drop("arp_not_for_us", arp_req(APP_H, A, "10.9.0.1"))
    drop("arp_not_for_us", arp_req(APP_H, "0.0.0.0", "10.1.0.77"))
    drop("arp_not_for_us", arp_raw(op=3, tpa=ip("10.1.0.1")))
    # Gratuitous ARP (request with sender IP = target IP, and a broadcast
    # reply) and an unsolicited reply: consumed, nothing learned.
    drop("arp_consumed", arp_req(APP_H, A, A))
    drop("arp_consumed", arp_req(H50, "10.1.0.50", "10.1.0.50", op=2, hwdst=BCAST), src=H50)
    drop("arp_consumed", arp_req(H50, "10.1.0.50", "10.1.0.1", op=2, hwdst=P1), src=H50, dst=P1)
    # So 10.1.0.50 is still unknown: resolved, no answer.
    bad = udp4("198.51.100.1", "10.1.0.50")
    c.rx("core", eth(CORE_H, P2) / bad, net="core",
         hold=Hold(c.resolution("app", "app", "10.1.0.50"), None,
                   c.err("core", bad, "unresolved", "core", "core", CORE_H)))
    return c


def sn_mac(addr):
    """The Ethernet group of the solicited-node address of `addr`."""
    return multicast_mac(solicited_node(addr))


@case("29-nd-ns")
def nd_ns():
    """Neighbour solicitations for the gateway or the port's link-local address (fe80:: + EUI-64 of the port MAC) are answered with an NA out the ingress port (86 bytes, 90 tagged with PCP 0; R=1 S=1 O=1, target link-layer option = port MAC), on the solicited-node group or unicast: to the source link-layer option's MAC when there is one (even if it differs from the Ethernet source), else to the Ethernet source; a DAD NS (source ::) gets an NA to ff02::1 with S=0; a source with a link-layer option is learned and used by the next poll."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_rx=True, extra_networks=TAGGED_NET, extra_ports=TRUNK_PORT))
    A6, GW6, LL = "2001:db8:1::10", "2001:db8:1::1", c.ll("app")
    H20, H30, H30B, H40 = "02:aa:00:00:01:20", "02:aa:00:00:01:30", "02:aa:00:00:01:3b", "02:aa:00:00:01:40"
    assert LL == "fe80::ff:fe00:101"

    def solicit(port, net, src, dst, sol, *tags, learn=None):
        c.rx(port, eth(src, dst, *tags) / sol, net=net, tx=[c.na_reply(port, net, sol, src)], learn=learn)

    # A new host asks for the gateway on its solicited-node group: NA to it, learned.
    solicit("app", "app", H20, sn_mac(GW6), ns("2001:db8:1::20", solicited_node(GW6), GW6, sll=H20),
            learn=("app", "2001:db8:1::20", H20))
    # The source link-layer option differs from the Ethernet source: the option wins.
    solicit("app", "app", H30, sn_mac(GW6), ns("2001:db8:1::30", solicited_node(GW6), GW6, sll=H30B),
            learn=("app", "2001:db8:1::30", H30B))
    # Unicast (neighbour unreachability detection) from a static neighbour.
    solicit("app", "app", APP_H, P1, ns(A6, GW6, GW6, sll=APP_H))
    # For the link-local address: unicast from the host's link-local address
    # without the option (NA to the Ethernet source), and on the link-local's
    # solicited-node group from a global address.
    solicit("app", "app", APP_H, P1, ns(link_local(APP_H), LL, LL))
    solicit("app", "app", APP_H, sn_mac(LL), ns(A6, solicited_node(LL), LL, sll=APP_H))
    # Duplicate address detection for the gateway (source ::): defended with
    # an NA to all nodes, S=0.
    solicit("app", "app", H40, sn_mac(GW6), ns("::", solicited_node(GW6), GW6))
    # The learned MACs are used from the next poll on.
    for dst, mac in [("2001:db8:1::20", H20), ("2001:db8:1::30", H30B)]:
        c.rx("core", eth(CORE_H, P2) / udp6("2001:db8:100::1", dst), net="core",
             tx=[out("app", "app", eth(P1, mac) / udp6("2001:db8:100::1", dst, hlim=63))])
    # On the trunk (VLAN 300, tagged with PCP 3): the gateway and the trunk
    # port's own link-local address; the NAs carry PCP 0.
    GW6T, LLT = "2001:db8:3::1", c.ll("trunk")
    solicit("trunk", "tagged", TAGGED_H, sn_mac(GW6T), ns("2001:db8:3::30", solicited_node(GW6T), GW6T, sll=TAGGED_H),
            q(300, pcp=3))
    solicit("trunk", "tagged", TAGGED_H, sn_mac(LLT), ns("2001:db8:3::30", solicited_node(LLT), LLT, sll=TAGGED_H),
            q(300, pcp=3))
    return c


def icmp6_raw(src, dst, body, hlim=255):
    """IPv6 + an ICMPv6 message given as bytes whose checksum field (bytes 2-3)
    is filled in here, over the pseudo-header (RFC 4443 2.3)."""
    ip6 = IPv6(src=src, dst=dst, hlim=hlim, nh=58, plen=len(body))
    hdr = bytes(ip6)
    pseudo = hdr[8:40] + struct.pack("!I3xB", len(body), 58)
    body = body[:2] + b"\x00\x00" + body[4:]
    ck = checksum(pseudo + body)
    return Raw(hdr + body[:2] + struct.pack("!H", ck) + body[4:])


@case("30-nd-invalid")
def nd_invalid():
    """Neighbour discovery that is not answered: NS failing RFC 4861 7.1.1 (hop limit 64, code 1, bad checksum, multicast target, option length 0, 20 bytes long) and an NA with hop limit 64 are nd_invalid; an NS for an address that is not cnfwd's (on the gateway's solicited-node group or to all nodes) nd_not_for_us; an NS to another solicited-node group, UDP to all nodes and MLD behind a hop-by-hop header l3_multicast; RA, RS, redirect and MLD to cnfwd icmp6_unsupported; valid NAs are nd_consumed and create no entry (a packet to the sender of one is resolved: NS, no answer, address unreachable)."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_rx=True))
    A6, GW6, SN = "2001:db8:1::10", "2001:db8:1::1", solicited_node("2001:db8:1::1")
    H60 = "02:aa:00:00:01:60"

    def drop(reason, pkt, src=APP_H, dst=None):
        c.rx("app", eth(src, dst or sn_mac(GW6), type=0x86DD) / pkt, net="app", drop=reason)

    good = ns(A6, SN, GW6, sll=APP_H)
    drop("nd_invalid", ns(A6, SN, GW6, sll=APP_H, hlim=64))
    drop("nd_invalid", ns(A6, SN, GW6, sll=APP_H, code=1))
    body = bytearray(bytes(good)[40:])
    body[2] ^= 0x5A
    drop("nd_invalid", IPv6(src=A6, dst=SN, hlim=255, nh=58) / Raw(bytes(body)))
    drop("nd_invalid", ns(A6, SN, "ff02::1", sll=APP_H))
    drop("nd_invalid", IPv6(src=A6, dst=SN, hlim=255) / ICMPv6ND_NS(tgt=GW6) / ICMPv6NDOptSrcLLAddr(lladdr=APP_H, len=0))
    # 20 bytes of ICMPv6 (the target cut after 12 bytes), checksum right.
    drop("nd_invalid", icmp6_raw(A6, SN, bytes(good)[40:60]))
    drop("nd_invalid", na(A6, GW6, A6, tll=APP_H, hlim=64), dst=P1)
    # Valid, but the target is not cnfwd's: 2001:db8:1::ab00:1 shares the
    # gateway's solicited-node group; an NS to all nodes.
    drop("nd_not_for_us", ns(A6, SN, "2001:db8:1::ab00:1", sll=APP_H))
    drop("nd_not_for_us", ns(A6, "ff02::1", "2001:db8:1::77", sll=APP_H), dst=ALL_NODES_MAC)
    # Groups cnfwd does not listen to, or not ICMPv6 right after the header.
    drop("l3_multicast", ns(A6, solicited_node("2001:db8:1::77"), "2001:db8:1::77", sll=APP_H),
         dst=sn_mac("2001:db8:1::77"))
    drop("l3_multicast", udp6(A6, "ff02::1"), dst=ALL_NODES_MAC)
    drop("l3_multicast", IPv6(src=link_local(APP_H), dst="ff02::1", hlim=1)
         / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)]) / ICMPv6MLQuery(), dst=ALL_NODES_MAC)
    # Other ND / MLD messages to cnfwd.
    drop("icmp6_unsupported", IPv6(src="fe80::cc:ff:fe00:fe", dst="ff02::1", hlim=255)
         / ICMPv6ND_RA() / ICMPv6NDOptSrcLLAddr(lladdr=CORE_H), dst=ALL_NODES_MAC)
    drop("icmp6_unsupported", IPv6(src=A6, dst=GW6, hlim=255) / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=APP_H),
         dst=P1)
    drop("icmp6_unsupported", IPv6(src=link_local(APP_H), dst=GW6, hlim=255)
         / ICMPv6ND_Redirect(tgt="2001:db8:1::11", dst="2001:db8:100::1"), dst=P1)
    drop("icmp6_unsupported", IPv6(src=A6, dst=GW6, hlim=1) / ICMPv6MLReport(mladdr="ff02::fb"), dst=P1)
    # Valid NAs: consumed. From a static neighbour (to all nodes, S=0), and an
    # unsolicited one from a host cnfwd does not know, which is not learned.
    drop("nd_consumed", na(A6, "ff02::1", A6, tll=APP_H, S=0), dst=ALL_NODES_MAC)
    drop("nd_consumed", na("2001:db8:1::60", GW6, "2001:db8:1::60", tll=H60, S=0), src=H60, dst=P1)
    bad = udp6("2001:db8:100::1", "2001:db8:1::60")
    c.rx("core", eth(CORE_H, P2) / bad, net="core",
         hold=Hold(c.resolution("app", "app", "2001:db8:1::60"), None,
                   c.err("core", bad, "unresolved", "core", "core", CORE_H)))
    return c


@case("31-echo")
def echo():
    """Echo requests to cnfwd's addresses are answered and the replies routed like generated packets (TTL / hop limit 64, PCP 0 on a trunk): IPv4 header kept but for swapped addresses, TTL 64 and options removed (TOS, ID, DF kept; data copied, padding not); ICMPv6 with traffic class and flow label kept; to the gateway of the ingress network, of another network of the VRF, and to the port's link-local address; from a remote host (reply via the default route); other ICMP to a gateway is to_gateway."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_rx=True, extra_networks=TAGGED_NET, extra_ports=TRUNK_PORT))
    A, A6 = "10.1.0.10", "2001:db8:1::10"

    def ping(port, net, mac, port_mac, req, *tags, fill=None, back=None):
        """An echo request; the reply goes to `back` (port, network, MAC),
        by default back to the requester on the ingress network."""
        f = eth(mac, port_mac, *tags) / req
        c.rx(port, f / fill if fill else f, net=net, tx=[c.echo_reply(req, *(back or (port, net, mac)))])

    req = icmp4(A, "10.1.0.1", tos=0x10, flags="DF", id=0x4321, seq=9, data=b"x" * 56)
    req[IP].id = 4321  # the IPv4 ID (icmp4's id is the echo identifier)
    ping("app", "app", APP_H, P1, req)
    ping("app", "app", APP_H, P1, icmp4(A, "10.1.0.1", options=[IPOption_Router_Alert()], data=b"with options"))
    # A 60-byte request: 18 bytes of padding that are not echo data.
    ping("app", "app", APP_H, P1, icmp4(A, "10.1.0.1", seq=3, data=b""), fill=pad(18))
    ping("app", "app", APP_H, P1, icmp6(A6, "2001:db8:1::1", tc=0x28, fl=0x12345, seq=4))
    ping("app", "app", APP_H, P1, icmp6(A6, c.ll("app"), seq=5, data=b"to the link-local address"))
    # The gateway of another network of the VRF, reached through app.
    ping("app", "app", APP_H, P1, icmp4(A, "10.9.0.1", seq=6))
    ping("app", "app", APP_H, P1, icmp6(A6, "2001:db8:9::1", seq=7))
    # Not echo requests: an echo reply, a timestamp request, an ICMPv6 echo reply.
    c.rx("app", eth(APP_H, P1) / icmp4(A, "10.1.0.1", type=0), net="app", drop="to_gateway")
    c.rx("app", eth(APP_H, P1) / IP(src=A, dst="10.1.0.1") / ICMP(type=13, id=0x77, seq=2, ts_ori=1000, ts_rx=0, ts_tx=0),
         net="app", drop="to_gateway")
    # From remote hosts behind the core router: replies via the default routes.
    back = ("core", "core", CORE_H)
    ping("core", "core", CORE_H, P2, icmp4("198.51.100.7", "10.1.0.1", ttl=57), back=back)
    ping("core", "core", CORE_H, P2, icmp6("2001:db8:100::7", "2001:db8:9::1", hlim=57), back=back)
    # On the trunk (PCP 5): the reply is tagged with PCP 0.
    ping("trunk", "tagged", TAGGED_H, P3, icmp4("10.3.0.30", "10.3.0.1"), q(300, pcp=5))
    ping("trunk", "tagged", TAGGED_H, P3, icmp6("2001:db8:3::30", "2001:db8:3::1"), q(300, pcp=5))
    return c


BURST1 = """
    [engine]
    burst_size = 1
"""


@case("32-resolve-arp")
def resolve_arp():
    """Resolving an IPv4 next hop (burst_size 1): the first packet to 10.9.0.20 sends an ARP request out core at once, it and the next ones are held; the ARP reply arriving on core completes the entry and the held packets leave in the order they came, before any later packet; later packets are forwarded at once; no retry (the answer comes within a second)."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_rx=True, head=BURST1))
    A, N, H20 = "10.1.0.10", "10.9.0.20", "02:cc:00:00:00:20"
    res = c.resolution("core", "core", N)

    def held(make):
        c.rx("app", eth(APP_H, P1) / make(64), net="app",
             hold=Hold(res, out("core", "core", eth(P2, H20) / make(63)),
                       c.err("app", make(64), "unresolved", "app", "app", APP_H)))

    def from_core(n):
        pkt = lambda ttl: udp4(f"198.51.100.{n}", A, ttl=ttl)  # noqa: E731
        c.rx("core", eth(CORE_H, P2) / pkt(64), net="core", tx=[out("app", "app", eth(P1, APP_H) / pkt(63))])

    # Listed in replay order (one frame per port per round: app, core, app, ...).
    held(lambda ttl: udp4(A, N, ttl=ttl, sport=1))
    from_core(1)
    held(lambda ttl: tcp4(A, N, ttl=ttl, sport=2))
    from_core(2)
    held(lambda ttl: icmp4(A, N, ttl=ttl, seq=3))
    # The answer: sender (its MAC, 10.9.0.20), target (core's MAC, core's gateway).
    c.rx("core", eth(H20, P2) / arp_req(H20, N, "10.9.0.1", op=2, hwdst=P2), net="core", drop="arp_consumed",
         answers=res, learn=("core", N, H20))
    c.rx("app", eth(APP_H, P1) / udp4(A, N, sport=4), net="app",
         tx=[out("core", "core", eth(P2, H20) / udp4(A, N, ttl=63, sport=4))])
    c.rx("app", eth(APP_H, P1) / udp4(A, "198.51.100.1", sport=5), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4(A, "198.51.100.1", ttl=63, sport=5))])
    return c


@case("33-resolve-nd")
def resolve_nd():
    """Resolving an IPv6 next hop (burst_size 1): a neighbour solicitation to the solicited-node group of 2001:db8:9::20 from core's gateway; packets to it from both ports are held (one a hairpin on core), the solicited NA arriving on core releases them in the order they came, then later packets go at once."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_rx=True, head=BURST1))
    A6, N, H20 = "2001:db8:1::10", "2001:db8:9::20", "02:cc:00:00:00:20"
    res = c.resolution("core", "core", N)

    def held(port, mac, port_mac, net, make, back):
        c.rx(port, eth(mac, port_mac) / make(64), net=net,
             hold=Hold(res, out("core", "core", eth(P2, H20) / make(63)),
                       c.err(net, make(64), "unresolved", *back)))

    held("app", APP_H, P1, "app", lambda h: udp6(A6, N, hlim=h, sport=1), ("app", "app", APP_H))
    held("core", CORE_H, P2, "core", lambda h: udp6("2001:db8:100::1", N, hlim=h, sport=2), ("core", "core", CORE_H))
    held("app", APP_H, P1, "app", lambda h: tcp6(A6, N, hlim=h), ("app", "app", APP_H))
    # The answer: solicited (S=1), override, to the NS's source, target
    # link-layer address option.
    c.rx("core", eth(H20, P2) / na(N, "2001:db8:9::1", N, tll=H20, S=1, O=1), net="core", drop="nd_consumed",
         answers=res, learn=("core", N, H20))
    c.rx("app", eth(APP_H, P1) / icmp6(A6, N), net="app",
         tx=[out("core", "core", eth(P2, H20) / icmp6(A6, N, hlim=63))])
    return c


@case("34-resolve-fail")
def resolve_fail():
    """Unanswered resolutions (neighbor_hold_packets = 2): the request at once, then two more a second apart after the input ends (3 = neighbor_tries), and one more second later the held packets are dropped neighbor_unresolved, each with a host unreachable (IPv4) or address unreachable (IPv6) quoting it as received; a third packet for a full hold is dropped neighbor_hold_full without an error."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, head="""
        [slow_path]
        neighbor_hold_packets = 2
        """))
    A, A6 = "10.1.0.10", "2001:db8:1::10"
    # A known next hop first (forwarded frames leave core before the requests).
    c.rx("app", eth(APP_H, P1) / udp4(A, "198.51.100.1"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4(A, "198.51.100.1", ttl=63))])
    r20 = c.resolution("core", "core", "10.9.0.20")

    def held(res, bad):
        c.rx("app", eth(APP_H, P1) / bad, net="app",
             hold=Hold(res, None, c.err("app", bad, "unresolved", "app", "app", APP_H)))

    held(r20, udp4(A, "10.9.0.20", sport=1))
    held(r20, tcp4(A, "10.9.0.20", sport=2))
    # CHOICE: a packet refused by a full hold gets no ICMP error (the error
    # table of docs/slow-path.md has no entry for neighbor_hold_full).
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.9.0.20", sport=3), net="app", drop="neighbor_hold_full")
    held(c.resolution("core", "core", "2001:db8:9::20"), udp6(A6, "2001:db8:9::20", data=b"v6 " * 40))
    held(c.resolution("core", "core", "10.9.0.21"), udp4(A, "10.9.0.21", sport=4))
    return c


NO_DEFAULT_ROUTES = """
    [[l3_isolation_domains.static_routes]]
    prefix = "198.51.100.0/24"
    next_hop = "10.9.0.254"

    [[l3_isolation_domains.static_routes]]
    prefix = "2001:db8:100::/48"
    next_hop = "2001:db8:9::fe"
"""


@case("35-time-exceeded")
def time_exceeded():
    """TTL / hop limit 1 or 0 on a routed packet: dropped ttl_expired with a time exceeded from the ingress network's gateway (TOS 0xc0, ID 0, TTL 64 / hop limit 64) quoting the packet as received, options included, padding not, cut so the error is at most 576 bytes (IPv4: a 548-byte packet whole, 549 and 1400 cut) or 1280 bytes (IPv6: 1232 whole, 1400 cut); routed back to remote senders through the default route, tagged with PCP 0 on a trunk."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_rx=True, extra_networks=TAGGED_NET, extra_ports=TRUNK_PORT))
    A, A6, X, X6 = "10.1.0.10", "2001:db8:1::10", "198.51.100.1", "2001:db8:100::1"

    def expired(port, mac, port_mac, net, bad, *tags, fill=None, back=None, size=None):
        f = eth(mac, port_mac, *tags) / bad
        e = c.err(net, bad, "ttl", *(back or (port, net, mac)))
        if size is not None:
            assert len(e.frame) == 14 + 4 * len(tags) + size, (len(e.frame), size)
        c.rx(port, f / fill if fill else f, net=net, drop="ttl_expired", gen=[e])

    expired("app", APP_H, P1, "app", udp4(A, X, ttl=1), size=20 + 8 + 38)
    expired("app", APP_H, P1, "app", big_udp4(A, X, 548, ttl=1), size=576)
    expired("app", APP_H, P1, "app", big_udp4(A, X, 549, ttl=0), size=576)
    expired("app", APP_H, P1, "app", big_udp4(A, X, 1400, ttl=1, flags="DF"), size=576)
    expired("app", APP_H, P1, "app", udp4(A, X, ttl=1, data=b""), fill=pad(18), size=20 + 8 + 28)
    expired("app", APP_H, P1, "app", udp4(A, X, ttl=1, options=[IPOption_Router_Alert()]), size=20 + 8 + 42)
    expired("app", APP_H, P1, "app", udp6(A6, X6, hlim=1), size=40 + 8 + 58)
    expired("app", APP_H, P1, "app", big_udp6(A6, X6, 1232, hlim=1), size=1280)
    expired("app", APP_H, P1, "app", big_udp6(A6, X6, 1400, hlim=0), size=1280)
    # Remote senders: the error goes back through the core router.
    back = ("core", "core", CORE_H)
    expired("core", CORE_H, P2, "core", tcp4("203.0.113.5", A, ttl=1), back=back)
    expired("core", CORE_H, P2, "core", tcp6("2001:db8:200::5", A6, hlim=1), back=back)
    # On the trunk: error from the tagged network's gateway, PCP 0.
    expired("trunk", TAGGED_H, P3, "tagged", udp4("10.3.0.30", X, ttl=1), q(300, pcp=6))
    expired("trunk", TAGGED_H, P3, "tagged", udp6("2001:db8:3::30", X6, hlim=1), q(300, pcp=6))
    return c


@case("36-net-unreachable")
def net_unreachable():
    """A VRF without default routes: destinations matching no route are dropped no_route with a net unreachable (IPv4 3/0) or no route to destination (ICMPv6 1/0) from the ingress network's gateway, quoting at most 548 / 1232 bytes; back to local senders, to remote senders through their static route, and on a trunk with PCP 0."""
    c = Case(dual_config(routes=NO_DEFAULT_ROUTES, core_rx=True, extra_networks=TAGGED_NET, extra_ports=TRUNK_PORT))
    A, A6 = "10.1.0.10", "2001:db8:1::10"

    def unrouted(port, mac, port_mac, net, bad, *tags, back=None):
        c.rx(port, eth(mac, port_mac, *tags) / bad, net=net, drop="no_route",
             gen=[c.err(net, bad, "no_route", *(back or (port, net, mac)))])

    unrouted("app", APP_H, P1, "app", udp4(A, "203.0.113.1"))
    unrouted("app", APP_H, P1, "app", tcp4(A, "192.0.2.1", flags="S"))
    unrouted("app", APP_H, P1, "app", big_udp4(A, "8.8.8.8", 1000))
    unrouted("app", APP_H, P1, "app", udp6(A6, "2001:db8:200::1"))
    unrouted("app", APP_H, P1, "app", big_udp6(A6, "2001:4860::8888", 1400))
    back = ("core", "core", CORE_H)
    unrouted("core", CORE_H, P2, "core", udp4("198.51.100.7", "203.0.113.9"), back=back)
    unrouted("core", CORE_H, P2, "core", udp6("2001:db8:100::7", "2001:db8:200::9"), back=back)
    unrouted("trunk", TAGGED_H, P3, "tagged", udp4("10.3.0.30", "192.0.2.9"), q(300, pcp=2))
    unrouted("trunk", TAGGED_H, P3, "tagged", udp6("2001:db8:3::30", "2001:db8:200::9"), q(300, pcp=2))
    return c


@case("37-frag-needed")
def frag_needed():
    """Egress MTU 1400 (core): an IPv4 packet with DF that is too big is dropped mtu_exceeded with a fragmentation needed (3/4) carrying the next-hop MTU 1400, an IPv6 one with a Packet Too Big carrying 1400; without DF it is fragmented; these errors are exempt from the per-destination limit (8 in a row to one sender all leave, more than its burst of 6)."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_extra="\n    mtu = 1400"))
    A, A6, X, X6 = "10.1.0.10", "2001:db8:1::10", "198.51.100.1", "2001:db8:100::1"

    def too_big(bad):
        c.rx("app", eth(APP_H, P1) / bad, net="app", drop="mtu_exceeded",
             gen=[c.err("app", bad, "too_big", "app", "app", APP_H, mtu=1400)])

    c.rx("app", eth(APP_H, P1) / big_udp4(A, X, 1400, flags="DF"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / big_udp4(A, X, 1400, ttl=63, flags="DF"))])
    for n in range(1401, 1409):
        too_big(big_udp4(A, X, n, flags="DF"))
    # A 1500-byte TCP segment with DF: the quote is cut at 548 bytes.
    too_big(IP(src=A, dst=X, flags="DF") / TCP(sport=40001, dport=443, flags="PA") / Raw(bytes(1460)))
    c.rx("app", eth(APP_H, P1) / big_udp4(A, X, 1401), net="app",
         tx=frags("core", "core", eth(P2, CORE_H), big_udp4(A, X, 1401, ttl=63), 1400))
    c.rx("app", eth(APP_H, P1) / big_udp6(A6, X6, 1400), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / big_udp6(A6, X6, 1400, hlim=63))])
    too_big(big_udp6(A6, X6, 1401))
    too_big(big_udp6(A6, X6, 1500))
    return c


@case("38-icmp-suppressed")
def icmp_suppressed():
    """No ICMP error (icmp_suppressed; the packet still counted under its drop reason) about: an ICMP error (IPv4 types 3, 4, 5, 11, 12; ICMPv6 types 1 and 3), an ICMP packet too short to tell, a non-first fragment (IPv4 offset, IPv6 fragment header), a source that is not a unicast host (240.0.0.1); and an error with no route back to its destination (the networks check no sources, so that packet gets this far). Echo requests and replies, first fragments get their time exceeded. Martians never reach the ICMP code at all: multicast destinations in unicast frames (224.1.1.1, ff0e::1: l3_multicast) and sources 0.0.0.0, 127.0.0.1, 224.0.0.5, ::, ::1, ff02::1 (martian_source, ip6_martian_source) are dropped before any lookup, a directed broadcast destination (directed_broadcast) right after it."""
    off = '\n    source_check = "off"'
    c = Case(dual_config(routes=NO_DEFAULT_ROUTES, core_rx=True, app_extra=off, core_extra=off))
    A, A6, X, X6 = "10.1.0.10", "2001:db8:1::10", "198.51.100.1", "2001:db8:100::1"
    quoted = bytes(udp4(X, A, ttl=60))[:28]

    def silent(bad, reason="ttl_expired", port="app", mac=APP_H, port_mac=P1, net="app"):
        c.rx(port, eth(mac, port_mac) / bad, net=net, drop=reason, count=["icmp_suppressed"])

    def sent(bad):
        c.rx("app", eth(APP_H, P1) / bad, net="app", drop="ttl_expired",
             gen=[c.err("app", bad, "ttl", "app", "app", APP_H)])

    # About ICMP errors.
    for t, code in [(3, 1), (4, 0), (5, 1), (11, 0), (12, 0)]:
        silent(IP(src=A, dst=X, ttl=1) / ICMP(type=t, code=code) / Raw(quoted))
    silent(IP(src=A, dst=X, ttl=1, proto=1))  # no ICMP header at all
    sent(icmp4(A, X, ttl=1))
    sent(icmp4(A, X, ttl=1, type=0))
    for hdr in [ICMPv6DestUnreach(code=3), ICMPv6TimeExceeded()]:
        silent(IPv6(src=A6, dst=X6, hlim=1) / hdr / Raw(bytes(udp6(X6, A6))[:48]))
    sent(icmp6(A6, X6, hlim=1))
    # Fragments: only about the first.
    silent(IP(src=A, dst=X, ttl=1, id=99, proto=17, frag=3) / Raw(b"second fragment"))
    sent(udp4(A, X, ttl=1, id=99, flags="MF", data=b"first fragment!!"))
    silent(IPv6(src=A6, dst=X6, hlim=1) / IPv6ExtHdrFragment(nh=17, offset=5, m=0, id=7) / Raw(b"tail of it"))
    sent(IPv6(src=A6, dst=X6, hlim=1) / IPv6ExtHdrFragment(offset=0, m=1, id=8) / UDP(sport=1, dport=2)
         / Raw(b"head of it"))
    # Broadcast / multicast destinations (unicast MAC).
    # A directed broadcast destination is refused before the TTL check.
    c.rx("app", eth(APP_H, P1) / udp4(A, "10.1.0.255", ttl=1), net="app", drop="directed_broadcast")
    c.rx("app", eth(APP_H, P1) / udp4(A, "224.1.1.1", ttl=5), net="app", drop="l3_multicast")
    c.rx("app", eth(APP_H, P1) / udp6(A6, "ff0e::1", hlim=5), net="app", drop="l3_multicast")
    # Sources that are not unicast hosts: martians are refused first.
    for src in ["0.0.0.0", "127.0.0.1", "224.0.0.5"]:
        c.rx("app", eth(APP_H, P1) / udp4(src, X, ttl=1), net="app", drop="martian_source")
    silent(udp4("240.0.0.1", X, ttl=1))
    for src in ["::", "::1", "ff02::1"]:
        c.rx("app", eth(APP_H, P1) / udp6(src, X6, hlim=1), net="app", drop="ip6_martian_source")
    # No route back to the sender (the VRF has no default route).
    silent(udp4("192.0.2.99", X, ttl=1), port="core", mac=CORE_H, port_mac=P2, net="core")
    silent(udp6("2001:db8:999::1", X6, hlim=1), port="core", mac=CORE_H, port_mac=P2, net="core")
    return c


@case("39-icmp-rate-destination")
def icmp_rate_destination():
    """Per-destination ICMP rate limit: 10,000 TTL-1 packets from one sender at one instant get 6 time exceeded (icmp_target_burst), the other 9,994 are counted icmp_rate_limited (still dropped ttl_expired); an IPv6 sender at the same instant has its own bucket; 2.5 s later the first sender has earned 2 tokens (one per icmp_target_interval_ms): 2 errors, the third refused."""
    c = Case(dual_config(routes=DEFAULT_ROUTES))
    c.expect_rate_limited = True
    A, A6, X, X6 = "10.1.0.10", "2001:db8:1::10", "198.51.100.1", "2001:db8:100::1"

    # 20,000 scapy builds are slow: each packet is built once, as bytes.
    hdr4, hdr6 = bytes(eth(APP_H, P1, type=0x0800)), bytes(eth(APP_H, P1, type=0x86DD))

    def expired(pkt):
        bad = bytes(pkt)
        c.rx("app", (hdr6 if IPv6 in pkt else hdr4) + bad, net="app", drop="ttl_expired",
             gen=[c.err("app", bad, "ttl", "app", "app", APP_H, lazy=True)])

    c.tick = Decimal(0)  # every frame at the same instant unless advanced
    c.advance(Decimal("0.001"))
    for i in range(10000):
        expired(udp4(A, X, ttl=1, id=i, data=b"flood"))
    expired(udp6(A6, X6, hlim=1, data=b"other bucket"))
    c.advance(Decimal("2.5"))
    for i in range(3):
        expired(udp4(A, X, ttl=1, id=20000 + i, data=b"later"))
    return c


@case("40-icmp-rate-worker")
def icmp_rate_worker():
    """Per-worker ICMP rate limit (announce = false): 10,000 TTL-1 packets from 10,000 senders behind the core router at one instant get 50 time exceeded (icmp_burst; each sender's own bucket is full), the other 9,950 are icmp_rate_limited; 10.5 ms later the worker has earned 10 tokens (icmp_rate_per_s 1000): of 12 more senders 10 get an error."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, core_rx=True, head="""
        [slow_path]
        announce = false
        """))
    c.expect_rate_limited = True
    A = "10.1.0.10"
    hdr = bytes(eth(CORE_H, P2, type=0x0800))

    def expired(src):
        bad = bytes(udp4(src, A, ttl=1, sport=53, data=b"flood"))
        c.rx("core", hdr + bad, net="core", drop="ttl_expired",
             gen=[c.err("core", bad, "ttl", "core", "core", CORE_H, lazy=True)])

    # app (polled first) forwards one packet; the flood comes from the core.
    c.rx("app", eth(APP_H, P1) / udp4(A, "198.51.100.1"), net="app",
         tx=[out("core", "core", eth(P2, CORE_H) / udp4(A, "198.51.100.1", ttl=63))])
    base = int(ipaddress.IPv4Address("172.16.0.1"))
    c.tick = Decimal(0)
    c.advance(Decimal("0.001"))
    for i in range(10000):
        expired(str(ipaddress.IPv4Address(base + i)))
    c.advance(Decimal("0.0105"))
    for i in range(12):
        expired(f"172.31.0.{i + 1}")
    return c


@case("41-l2-aging")
def l2_aging():
    """L2 MAC aging and moves in capture time (mac_age_s = 30, burst_size 1): a MAC not seen as a source for 45 s is forgotten and a frame to it is flooded again (macs_aged_out), while MACs seen 25 s earlier still direct their frames; a MAC seen on another port moves there (mac_moves); a static MAC (static_macs) is known before it is ever seen, never ages, and does not move when it appears as a source on another port."""
    c = Case("""
        [engine]
        burst_size = 1

        [[l2_networks]]
        name = "lan"
        vlan = 300
        mtu = 1500
        mac_age_s = 30
        static_macs = [{ mac = "02:5a:00:00:00:01", port = "acc2" }]

        [[trunked_networks]]
        name = "tn"
        vlans = [300]

        [[ports]]
        name = "acc1"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["lan"]
        rx_pcap = "in-acc1.pcap"
        tx_pcap = "out-acc1.pcap"

        [[ports]]
        name = "acc2"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["lan"]
        rx_pcap = "in-acc2.pcap"
        tx_pcap = "out-acc2.pcap"

        [[ports]]
        name = "trunk"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "trunk"
        trunked_network = "tn"
        rx_pcap = "in-trunk.pcap"
        tx_pcap = "out-trunk.pcap"
    """)
    A, B, C, T, S = ("02:a1:00:00:00:01", "02:b2:00:00:00:01", "02:c2:00:00:00:01", "02:70:00:00:00:01",
                     "02:5a:00:00:00:01")

    def frame(src, dst, port, note):
        tags = (q(300),) if port == "trunk" else ()
        return l2data(src, dst, *tags, data=note.encode())

    def bridge(port, src, dst, to, note):
        """A frame from `src` on `port` to `dst`, leaving on the ports `to`."""
        c.rx(port, frame(src, dst, port, note), net="lan",
             tx=[out(p, "lan", frame(src, dst, p, note)) for p in to])

    # Frames are listed in replay order: one per port per round (acc1, acc2,
    # trunk), so the capture clock only moves forward.
    # t = 0: A, B and T learned; S is static on acc2 before it is ever seen.
    bridge("acc1", A, BCAST, ["acc2", "trunk"], "A hello")
    bridge("acc2", B, A, ["acc1"], "B to A")
    bridge("trunk", T, S, ["acc2"], "T to static S")
    c.advance(20)
    # t = 20: A, T seen again; C learned on acc2. B is not seen (last at 0).
    bridge("acc1", A, T, ["trunk"], "A to T")
    bridge("acc2", C, T, ["trunk"], "C to T")
    bridge("trunk", T, A, ["acc1"], "T to A")
    c.advance(25)
    # t = 45: B (last seen at 0) has aged out: flooded; A and C (seen at 20) are
    # still known. C then appears on the trunk: it moves there. (B is looked up
    # as a destination before it is seen again, and no other entry is expired,
    # so macs_aged_out is 1 whether entries are aged when looked up or swept.)
    c.rx("acc1", frame(A, B, "acc1", "A to aged B"), net="lan", count=["macs_aged_out"],
         tx=[out("acc2", "lan", frame(A, B, "acc2", "A to aged B")),
             out("trunk", "lan", frame(A, B, "trunk", "A to aged B"))])
    bridge("acc2", C, A, ["acc1"], "C to A")
    c.rx("trunk", frame(C, A, "trunk", "C moved"), net="lan", count=["mac_moves"],
         tx=[out("acc1", "lan", frame(C, A, "acc1", "C moved"))])
    # B is back on acc2 (learned anew, not a move); C is now on the trunk; the
    # static S shows up on the trunk as a source: it stays on acc2.
    bridge("acc1", A, C, ["trunk"], "A to moved C")
    bridge("acc2", B, A, ["acc1"], "B is back")
    bridge("trunk", S, A, ["acc1"], "S on the trunk")
    bridge("acc1", A, S, ["acc2"], "A to static S")
    bridge("acc1", A, B, ["acc2"], "A to B again")
    order = [(r.port, r.ts) for r in c.processing_order()]
    assert order == sorted(order, key=lambda x: x[1]) and [r for r in c.rx_list] == c.processing_order(), order
    return c


# ---------------------------------------------------------------------------
# Router and bridge hygiene (docs/design.md, "What is never forwarded").
# ---------------------------------------------------------------------------

@case("42-martians")
def martians():
    """IPv4 martians (RFC 1812 4.2.2.11, 5.3.7): sources in 0/8, 127/8, 224/4, 255.255.255.255, the ingress network's directed broadcast and cnfwd's own gateway address are dropped martian_source; destinations in 0/8, 127/8 and 255.255.255.255 martian_destination; the directed broadcast of any connected prefix of the VRF as destination directed_broadcast (RFC 2644); never an ICMP error about them (TTL 1 included). Another network's broadcast as a source needs the reverse-path lookup (case 44): with source_check = "off" it passes, as with Linux's rp_filter 0. Their neighbours at each range edge (1.0.0.0, 126.255.255.255, 128.0.0.0, 223.255.255.255, 240.0.0.0, 255.255.255.254) are forwarded; 224/4 destinations in unicast frames are l3_multicast. The ingress network checks no sources (source_check = "off"), so only the martian rules act."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, app_extra='\n    source_check = "off"'))
    A, X = "10.1.0.10", "198.51.100.1"
    fwd = lambda src, dst, **kw: c.rx("app", eth(APP_H, P1) / udp4(src, dst, **kw), net="app", tx=[
        out("core", "core", eth(P2, CORE_H) / udp4(src, dst, ttl=kw.get("ttl", 64) - 1))])
    drop = lambda src, dst, reason, **kw: c.rx("app", eth(APP_H, P1) / udp4(src, dst, **kw), net="app", drop=reason)
    for src in ["1.0.0.0", "126.255.255.255", "128.0.0.0", "223.255.255.255", "240.0.0.0", "255.255.255.254",
                "10.1.0.254", "10.1.0.0"]:
        fwd(src, X)
    for src in ["0.0.0.0", "0.255.255.255", "127.0.0.1", "127.255.255.255", "224.0.0.0", "239.255.255.255",
                "255.255.255.255", "10.1.0.255", "10.1.0.1"]:
        drop(src, X, "martian_source")
    drop("127.0.0.1", X, "martian_source", ttl=1)
    for dst in ["1.0.0.0", "126.255.255.255", "128.0.0.0", "223.255.255.255", "240.0.0.1", "255.255.255.254"]:
        fwd(A, dst)
    for dst in ["0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.255", "255.255.255.255"]:
        drop(A, dst, "martian_destination")
    drop(A, "127.0.0.1", "martian_destination", ttl=1)
    for dst in ["224.0.0.1", "239.255.255.255"]:
        drop(A, dst, "l3_multicast")
    # Directed broadcasts of the VRF's connected prefixes (RFC 2644, RFC 1812
    # 5.3.5.2: not forwarded), TTL 1 included; their neighbours are hosts.
    for dst in ["10.9.0.255", "10.1.0.255"]:
        drop(A, dst, "directed_broadcast")
    drop(A, "10.9.0.255", "directed_broadcast", ttl=1)
    fwd(A, "10.9.0.254")
    # Another network's broadcast as a source is found by the reverse-path
    # lookup; with source_check = "off" there is none (as Linux's rp_filter 0).
    fwd("10.9.0.255", X)
    return c


@case("43-ip6-scope")
def ip6_scope():
    """IPv6 addresses no router forwards (RFC 4291, RFC 4007): sources ::, ::1, multicast and IPv4-mapped are dropped ip6_martian_source; destinations ::, ::1 and IPv4-mapped ip6_martian_destination; a link-local source or destination routed to another network ip6_scope_violation; no ICMP error about any of them. Their neighbours (::2, ::fffe:ffff:ffff, ::1:0:0:0, fe7f:ffff::1, fec0::1) are forwarded. The ingress network checks no sources (source_check = "off")."""
    c = Case(dual_config(routes=DEFAULT_ROUTES, app_extra='\n    source_check = "off"'))
    A6, X6 = "2001:db8:1::10", "2001:db8:100::1"
    fwd = lambda src, dst: c.rx("app", eth(APP_H, P1) / udp6(src, dst), net="app", tx=[
        out("core", "core", eth(P2, CORE_H) / udp6(src, dst, hlim=63))])
    drop = lambda src, dst, reason: c.rx("app", eth(APP_H, P1) / udp6(src, dst), net="app", drop=reason)
    for src in ["::2", "::fffe:ffff:ffff", "::1:0:0:0", "fe7f:ffff::1", "fec0::1"]:
        fwd(src, X6)
    for src in ["::", "::1", "ff02::1", "ff0e::5", "::ffff:10.1.0.10", "::ffff:0:0"]:
        drop(src, X6, "ip6_martian_source")
    for dst in ["::2", "::fffe:ffff:ffff", "fe7f:ffff::1", "fec0::1"]:
        fwd(A6, dst)
    for dst in ["::", "::1", "::ffff:8.8.8.8", "::ffff:ffff:ffff"]:
        drop(A6, dst, "ip6_martian_destination")
    # Link-local (fe80::/10) never leaves its link.
    for src in ["fe80::10", "febf:ffff::1"]:
        drop(src, X6, "ip6_scope_violation")
    for dst in ["fe80::99", "febf::1"]:
        drop(A6, dst, "ip6_scope_violation")
    return c


URPF_CONFIG = """
    [[l3_isolation_domains]]
    name = "vrf1"

    [[l3_isolation_domains.static_routes]]
    prefix = "0.0.0.0/0"
    next_hop = "10.9.0.254"

    [[l3_isolation_domains.static_routes]]
    prefix = "::/0"
    next_hop = "2001:db8:9::fe"

    [[l3_isolation_domains.static_routes]]
    prefix = "172.16.0.0/12"
    next_hop = "10.1.0.254"

    [[l3_isolation_domains.static_routes]]
    prefix = "2001:db8:172::/48"
    next_hop = "2001:db8:1::254"

    # Inside app's connected prefixes, behind core: these sources belong to
    # core, not app, though the connected prefix covers them.
    [[l3_isolation_domains.static_routes]]
    prefix = "10.1.0.128/25"
    next_hop = "10.9.0.254"

    [[l3_isolation_domains.static_routes]]
    prefix = "2001:db8:1:0:8000::/65"
    next_hop = "2001:db8:9::fe"

    [[l3_isolation_domains]]
    name = "vrf2"

    [[l3_isolation_domains.static_routes]]
    prefix = "198.51.100.0/24"
    next_hop = "10.8.0.254"

    [[l3_isolation_domains.static_routes]]
    prefix = "2001:db8:198::/48"
    next_hop = "2001:db8:8::fe"

    [[l3_networks]]
    name = "app"
    vlan = 100
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "DualStack"
    ipv4_connected_prefix = "10.1.0.0/24"
    ipv6_connected_prefix = "2001:db8:1::/64"
    neighbors = [
      { ip = "10.1.0.10", mac = "02:aa:00:00:01:10" },
      { ip = "10.1.0.254", mac = "02:aa:00:00:01:fe" },
      { ip = "2001:db8:1::10", mac = "02:aa:00:00:01:10" },
      { ip = "2001:db8:1::254", mac = "02:aa:00:00:01:fe" },
    ]

    [[l3_networks]]
    name = "open"
    vlan = 120
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "IPV4"
    ipv4_connected_prefix = "10.3.0.0/24"
    source_check = "off"

    [[l3_networks]]
    name = "core"
    vlan = 200
    l3_isolation_domain = "vrf1"
    ip_allocation_type = "DualStack"
    ipv4_connected_prefix = "10.9.0.0/24"
    ipv6_connected_prefix = "2001:db8:9::/64"
    source_check = "strict"
    neighbors = [
      { ip = "10.9.0.254", mac = "02:cc:00:00:00:fe" },
      { ip = "2001:db8:9::fe", mac = "02:cc:00:00:00:fe" },
    ]

    [[l3_networks]]
    name = "app2"
    vlan = 110
    l3_isolation_domain = "vrf2"
    ip_allocation_type = "DualStack"
    ipv4_connected_prefix = "10.2.0.0/24"
    ipv6_connected_prefix = "2001:db8:2::/64"
    source_check = "loose"

    [[l3_networks]]
    name = "core2"
    vlan = 210
    l3_isolation_domain = "vrf2"
    ip_allocation_type = "DualStack"
    ipv4_connected_prefix = "10.8.0.0/24"
    ipv6_connected_prefix = "2001:db8:8::/64"
    neighbors = [
      { ip = "10.8.0.254", mac = "02:cc:00:00:08:fe" },
      { ip = "2001:db8:8::fe", mac = "02:cc:00:00:08:fe" },
    ]

    [[trunked_networks]]
    name = "tenants"
    vlans = [100, 110, 120]

    [[ports]]
    name = "t"
    backend = "pcap"
    mac = "02:00:00:00:01:01"
    mode = "trunk"
    trunked_network = "tenants"
    rx_pcap = "in-t.pcap"
    tx_pcap = "out-t.pcap"

    [[ports]]
    name = "core"
    backend = "pcap"
    mac = "02:00:00:00:02:01"
    mode = "access"
    networks = ["core"]
    rx_pcap = "in-core.pcap"
    tx_pcap = "out-core.pcap"

    [[ports]]
    name = "core2"
    backend = "pcap"
    mac = "02:00:00:00:03:01"
    mode = "access"
    networks = ["core2"]
    tx_pcap = "out-core2.pcap"
"""


@case("44-urpf")
def urpf():
    """Reverse-path filtering per network (RFC 3704; source_check): strict (app, the default; core, written out) forwards a packet only when the route back to its source leaves through the network it came in on (a source routed back via another network, a source in another network's prefix, a source on the default route via core, a source inside app's connected prefix but under a more specific route via core: rpf_failed; cnfwd's own address, another connected prefix's directed broadcast (loose too): martian_source; the same more-specific sources arriving on core pass); loose (app2, in a VRF without a default route) needs any route back (a source via core2 passes, one with no route fails); off (open) takes anything. Refused packets get no ICMP error (TTL 1 included). One burst mixes the three VRF-less and per-VRF lookups of the trunk; core's burst is one VRF."""
    c = Case(URPF_CONFIG)
    H, R, H2, O, CR, CR2 = "02:aa:00:00:01:10", "02:aa:00:00:01:fe", "02:aa:00:00:02:10", "02:aa:00:00:03:10", \
        "02:cc:00:00:00:fe", "02:cc:00:00:08:fe"
    C4, C6, D4, D6 = "198.18.0.1", "2001:db8:200::1", "198.51.100.1", "2001:db8:198::1"

    def via(net, vlan, mac, pkt, to, to_net, to_mac, tag=None):
        c.rx("t", eth(mac, P1, q(vlan)) / pkt(), net=net, tx=[out(to, to_net, eth(
            P1 if to == "t" else (P2 if to == "core" else P3), to_mac, *((q(tag),) if tag else ())) / pkt(True))])

    def refused(net, vlan, mac, pkt, reason="rpf_failed"):
        c.rx("t", eth(mac, P1, q(vlan)) / pkt(), net=net, drop=reason)

    u4 = lambda src, dst, ttl=64: lambda out=False: udp4(src, dst, ttl=ttl - 1 if out else ttl)
    u6 = lambda src, dst: lambda out=False: udp6(src, dst, hlim=63 if out else 64)
    # app: strict.
    via("app", 100, H, u4("10.1.0.10", C4), "core", "core", CR)
    via("app", 100, R, u4("172.16.5.5", C4), "core", "core", CR)
    via("app", 100, H, u6("2001:db8:1::10", C6), "core", "core", CR)
    via("app", 100, R, u6("2001:db8:172::5", C6), "core", "core", CR)
    for src in ["8.8.8.8", "10.9.0.7", "10.3.0.10"]:
        refused("app", 100, H, u4(src, C4))
    refused("app", 100, H, u4("8.8.8.8", C4, ttl=1))
    refused("app", 100, H, u4("10.1.0.1", C4), "martian_source")
    # Another connected prefix's directed broadcast: found by the source lookup.
    refused("app", 100, H, u4("10.9.0.255", C4), "martian_source")
    # On app's connected prefix, but 10.1.0.128/25 and 2001:db8:1:0:8000::/65 route back via core.
    via("app", 100, H, u4("10.1.0.127", C4), "core", "core", CR)
    refused("app", 100, H, u4("10.1.0.128", C4))
    refused("app", 100, H, u4("10.1.0.200", C4))
    via("app", 100, H, u6("2001:db8:1::7fff:ffff:ffff:ffff", C6), "core", "core", CR)
    refused("app", 100, H, u6("2001:db8:1:0:8000::1", C6))
    for src in ["2606:4700::1", "2001:db8:9::7"]:
        refused("app", 100, H, u6(src, C6))
    # open: no check.
    for src in ["8.8.8.8", "10.1.0.10", "172.16.5.5"]:
        via("open", 120, O, u4(src, C4), "core", "core", CR)
    # app2: loose, in vrf2 (no default route).
    via("app2", 110, H2, u4("10.2.0.10", D4), "core2", "core2", CR2)
    via("app2", 110, H2, u4("198.51.100.7", D4), "core2", "core2", CR2)
    via("app2", 110, H2, u6("2001:db8:198::7", D6), "core2", "core2", CR2)
    refused("app2", 110, H2, u4("8.8.8.8", D4))
    refused("app2", 110, H2, u4("10.8.0.255", D4), "martian_source")
    refused("app2", 110, H2, u6("2001:db8:999::1", D6))
    # core: strict; the default route leads back through core.
    c.rx("core", eth(CR, P2) / udp4("8.8.8.8", "10.1.0.10"), net="core",
         tx=[out("t", "app", eth(P1, H, q(100)) / udp4("8.8.8.8", "10.1.0.10", ttl=63))])
    c.rx("core", eth(CR, P2) / udp6("2606:4700::1", "2001:db8:1::10"), net="core",
         tx=[out("t", "app", eth(P1, H, q(100)) / udp6("2606:4700::1", "2001:db8:1::10", hlim=63))])
    c.rx("core", eth(CR, P2) / udp4("172.16.5.5", "10.1.0.10"), net="core", drop="rpf_failed")
    c.rx("core", eth(CR, P2) / udp4("10.1.0.200", "10.1.0.10"), net="core",
         tx=[out("t", "app", eth(P1, H, q(100)) / udp4("10.1.0.200", "10.1.0.10", ttl=63))])
    c.rx("core", eth(CR, P2) / udp4("10.1.0.20", "10.1.0.10"), net="core", drop="rpf_failed")
    c.rx("core", eth(CR, P2) / udp6("2001:db8:1:0:8000::1", "2001:db8:1::10"), net="core",
         tx=[out("t", "app", eth(P1, H, q(100)) / udp6("2001:db8:1:0:8000::1", "2001:db8:1::10", hlim=63))])
    c.rx("core", eth(CR, P2) / udp4("10.1.0.10", "10.3.0.10"), net="core", drop="rpf_failed")
    c.rx("core", eth(CR, P2) / udp6("2001:db8:172::5", "2001:db8:1::10"), net="core", drop="rpf_failed")
    return c


@case("45-l2-hygiene")
def l2_hygiene():
    """What every 802.1Q bridge refuses, on an L2 network of three ports: a source MAC that is multicast, broadcast or all zeros (l2_invalid_source), and any destination in 01:80:C2:00:00:00-0F (STP, pause, slow protocols, 802.1X, LLDP...: l2_reserved_group); nothing of them is learned (frames to those sources are flooded later) or forwarded. 01:80:C2:00:00:10 and :20 are ordinary multicast (flooded); a locally administered unicast source is valid."""
    c = Case("""
        [[l2_networks]]
        name = "lan"
        vlan = 300
        mtu = 1500

        [[trunked_networks]]
        name = "tn"
        vlans = [300]

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
        tx_pcap = "out-acc2.pcap"
    """)
    T1 = "02:70:00:00:00:01"
    ZERO = "00:00:00:00:00:00"

    def flood_from_trunk(src, dst, data):
        c.rx("trunk", l2data(src, dst, q(300), data=data), net="lan",
             tx=[out("acc1", "lan", l2data(src, dst, data=data)), out("acc2", "lan", l2data(src, dst, data=data))])

    for src in ["01:00:5e:00:00:01", BCAST, ZERO, "03:00:00:00:00:01", "33:33:00:00:00:01"]:
        c.rx("trunk", l2data(src, T1, q(300), data=b"bad source"), net="lan", drop="l2_invalid_source")
    for i in range(16):
        src = f"02:71:00:00:00:{i:02x}"
        c.rx("trunk", l2data(src, f"01:80:c2:00:00:{i:02x}", q(300), data=b"reserved group"), net="lan",
             drop="l2_reserved_group")
    flood_from_trunk(T1, "01:80:c2:00:00:10", b"all bridges")
    flood_from_trunk(T1, "01:80:c2:00:00:20", b"gmrp")
    flood_from_trunk("06:00:00:00:00:01", BCAST, b"local admin")
    # Nothing was learned from the refused frames: frames to their sources flood.
    for dst in [ZERO, "02:71:00:00:00:00", "02:71:00:00:00:0e"]:
        c.rx("acc1", l2data("02:a1:00:00:00:01", dst, data=b"to a refused source"), net="lan",
             tx=[out("trunk", "lan", l2data("02:a1:00:00:00:01", dst, q(300), data=b"to a refused source")),
                 out("acc2", "lan", l2data("02:a1:00:00:00:01", dst, data=b"to a refused source"))])
    # T1 was learned (valid source) on the trunk.
    c.rx("acc1", l2data("02:a1:00:00:00:01", T1, data=b"to T1"), net="lan",
         tx=[out("trunk", "lan", l2data("02:a1:00:00:00:01", T1, q(300), data=b"to T1"))])
    return c


@case("46-fragmentation")
def fragmentation():
    """IPv4 fragmentation (RFC 791, RFC 1812 5.2.6) from a jumbo network (store, MTU 9000) to core (MTU 1500, access) and legacy (MTU 576, IPv4 only, tagged on a trunk): a datagram at the MTU leaves whole; one byte more leaves as two fragments (1480 + 1 payload bytes); 3000, 9000 bytes in 1480-byte pieces; 1000 bytes into MTU 576 in 552-byte pieces; identification kept, offsets and MF right, checksums recomputed, TTL decremented once. Options: the first fragment keeps them all, later ones keep the header length with options lacking the copy bit overwritten by NOPs (experimental options 0x1e, not copied, and 0x9e, copied, RFC 4727). A fragment fragmented again: a first fragment (MF) keeps MF on every piece, a last fragment (offset 400) continues its offsets and clears MF only on its last piece. With DF: fragmentation needed (mtu_exceeded) carrying the MTU; IPv6 is never fragmented (Packet Too Big). The other way (1500 into 9000) nothing is fragmented."""
    c = Case("""
        [[l3_isolation_domains]]
        name = "vrf1"

        [[l3_isolation_domains.static_routes]]
        prefix = "198.51.100.0/24"
        next_hop = "10.9.0.254"

        [[l3_isolation_domains.static_routes]]
        prefix = "2001:db8:100::/48"
        next_hop = "2001:db8:9::fe"

        [[l3_isolation_domains.static_routes]]
        prefix = "203.0.113.0/24"
        next_hop = "10.7.0.254"

        [[l3_networks]]
        name = "store"
        vlan = 100
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "DualStack"
        ipv4_connected_prefix = "10.1.0.0/24"
        ipv6_connected_prefix = "2001:db8:1::/64"
        mtu = 9000
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
        mtu = 1500
        neighbors = [
          { ip = "10.9.0.254", mac = "02:cc:00:00:00:fe" },
          { ip = "2001:db8:9::fe", mac = "02:cc:00:00:00:fe" },
        ]

        [[l3_networks]]
        name = "legacy"
        vlan = 300
        l3_isolation_domain = "vrf1"
        ip_allocation_type = "IPV4"
        ipv4_connected_prefix = "10.7.0.0/24"
        mtu = 576
        neighbors = [{ ip = "10.7.0.254", mac = "02:dd:00:00:00:fe" }]

        [[trunked_networks]]
        name = "tn"
        vlans = [300]

        [[ports]]
        name = "store"
        backend = "pcap"
        mac = "02:00:00:00:01:01"
        mode = "access"
        networks = ["store"]
        rx_pcap = "in-store.pcap"
        tx_pcap = "out-store.pcap"

        [[ports]]
        name = "core"
        backend = "pcap"
        mac = "02:00:00:00:02:01"
        mode = "access"
        networks = ["core"]
        rx_pcap = "in-core.pcap"
        tx_pcap = "out-core.pcap"

        [[ports]]
        name = "trunk"
        backend = "pcap"
        mac = "02:00:00:00:03:01"
        mode = "trunk"
        trunked_network = "tn"
        tx_pcap = "out-trunk.pcap"
    """)
    H, CR, LG = "02:aa:00:00:01:10", "02:cc:00:00:00:fe", "02:dd:00:00:00:fe"
    A, X, L = "10.1.0.10", "198.51.100.7", "203.0.113.9"

    def via_core(pkt, out_pkt):
        if len(out_pkt) > 1500:
            tx = frags("core", "core", eth(P2, CR), out_pkt, 1500)
        else:
            tx = [out("core", "core", eth(P2, CR) / out_pkt)]
        c.rx("store", eth(H, P1) / pkt, net="store", tx=tx)

    for n in [1500, 1501, 3000, 9000]:
        via_core(big_udp4(A, X, n, id=0x100 + n % 256), big_udp4(A, X, n, ttl=63, id=0x100 + n % 256))
    for n in [577, 1000]:
        c.rx("store", eth(H, P1) / big_udp4(A, L, n, id=7), net="store",
             tx=frags("trunk", "legacy", eth(P3, LG, q(300)), big_udp4(A, L, n, ttl=63, id=7), 576))
    c.rx("store", eth(H, P1) / big_udp4(A, L, 576, id=8), net="store",
         tx=[out("trunk", "legacy", eth(P3, LG, q(300)) / big_udp4(A, L, 576, ttl=63, id=8))])
    # Options: 0x1e (not copied) then 0x9e (copied), 4 bytes each.
    opts = [IPOption(b"\x1e\x04\xab\xcd"), IPOption(b"\x9e\x04\x12\x34")]
    body = bytes(i % 251 for i in range(2000))
    via_core(IP(src=A, dst=X, id=9, options=opts) / UDP(sport=40000, dport=5000) / Raw(body),
             IP(src=A, dst=X, id=9, ttl=63, options=opts) / UDP(sport=40000, dport=5000) / Raw(body))
    opts = [IPOption(b"\x9e\x04\x12\x34"), IPOption(b"\x1e\x08" + bytes(6))]
    via_core(IP(src=A, dst=X, id=10, options=opts) / UDP(sport=40000, dport=5000) / Raw(body),
             IP(src=A, dst=X, id=10, ttl=63, options=opts) / UDP(sport=40000, dport=5000) / Raw(body))
    # Fragments fragmented again: a first fragment (MF), a last one (offset 400).
    first = bytes(i % 7 for i in range(2000 - 28))
    via_core(IP(src=A, dst=X, id=11, flags="MF") / UDP(sport=40000, dport=5000, len=5000) / Raw(first),
             IP(src=A, dst=X, id=11, ttl=63, flags="MF") / UDP(sport=40000, dport=5000, len=5000) / Raw(first))
    tail = bytes(i % 13 for i in range(1580))
    via_core(IP(src=A, dst=X, id=11, frag=400, proto=17) / Raw(tail),
             IP(src=A, dst=X, id=11, ttl=63, frag=400, proto=17) / Raw(tail))
    # DF: fragmentation needed; IPv6: Packet Too Big, never fragmented.
    for bad in [big_udp4(A, X, 1501, flags="DF"), big_udp6("2001:db8:1::10", "2001:db8:100::1", 1501)]:
        c.rx("store", eth(H, P1) / bad, net="store", drop="mtu_exceeded",
             gen=[c.err("store", bad, "too_big", "store", "store", H, mtu=1500)])
    # Into the jumbo network nothing is fragmented.
    c.rx("core", eth(CR, P2) / big_udp4(X, A, 1500), net="core",
         tx=[out("store", "store", eth(P1, H) / big_udp4(X, A, 1500, ttl=63))])
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
        t = c.stats()["totals"]
        print(f"{name}: {t['rx_packets']} in, {t['rx_packets'] - t['dropped']} sent, {t['dropped']} dropped, "
              f"{t['generated']} generated, {t['tx_packets']} out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
