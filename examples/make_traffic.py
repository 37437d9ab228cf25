#!/usr/bin/env python3
"""Writes examples/traffic/workload-in.pcap (what the workload's trunk sends
in examples/edge-site.toml) and, beside it, red-core-in.pcap and
blue-core-in.pcap (what the two core routers send).

A mix an operator would recognise: the apps ask for their gateway (ARP, a
Neighbour Solicitation) and ping it, as ordinary hosts do; red and blue
tenants reach their cores over the same addresses (VRFs keep them apart);
IPv6; storage frames bridged on VLAN 300; and the usual mistakes, dropped
with a reason (unknown VLAN, no route, ARP for someone else, untagged) or
answered as a router answers them (TTL 1: time exceeded; no route: ICMP
unreachable). Nobody has static neighbours: the cores answer the ARP
requests and NS cnfwd sends when the first packets for them arrive (in a
replay each port's capture is read a burst at a time in turns, so the
routers' answers follow the workload's first burst, which starts every
resolution)."""
import sys
from pathlib import Path

from scapy.all import (ARP, IP, UDP, TCP, ICMP, IPv6, ICMPv6EchoRequest, ICMPv6ND_NA,
                       ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, Dot1Q,
                       Ether, Raw, wrpcap)

WORKLOAD_MAC = "02:00:00:00:01:01"   # cnfwd's MAC on the workload trunk
RED_CORE_PORT = "02:00:00:00:02:01"  # cnfwd's MAC towards red's core
BLUE_CORE_PORT = "02:00:00:00:03:01"
APP_RED = "02:aa:00:00:00:10"
APP_BLUE = "02:bb:00:00:00:10"
RED_CORE = "02:cc:00:00:00:fe"
BLUE_CORE = "02:dd:00:00:00:fe"


def tagged(vlan, src, pkt, dst=WORKLOAD_MAC):
    return Ether(src=src, dst=dst) / Dot1Q(vlan=vlan) / pkt


def stamp(pkts, start):
    for k, p in enumerate(pkts):
        p.time = start + k / 1000
    return pkts


def workload():
    pkts = [
        # Hosts that know nothing of cnfwd but their gateway's address ask
        # for it: answered from the trunk's MAC, and the askers are learned.
        tagged(100, APP_RED, ARP(hwsrc=APP_RED, psrc="10.1.0.10", pdst="10.1.0.1"),
               dst="ff:ff:ff:ff:ff:ff"),
        tagged(200, APP_BLUE, ARP(hwsrc=APP_BLUE, psrc="10.1.0.10", pdst="10.1.0.1"),
               dst="ff:ff:ff:ff:ff:ff"),
        tagged(100, APP_RED, IPv6(src="2001:db8:1::10", dst="ff02::1:ff00:1", hlim=255) /
               ICMPv6ND_NS(tgt="2001:db8:1::1") / ICMPv6NDOptSrcLLAddr(lladdr=APP_RED),
               dst="33:33:ff:00:00:01"),
    ]
    red4 = [tagged(100, APP_RED, IP(src="10.1.0.10", dst=f"198.51.100.{i + 1}", ttl=64) /
                   TCP(sport=40000 + i, dport=443, flags="S")) for i in range(40)]
    blue4 = [tagged(200, APP_BLUE, IP(src="10.1.0.10", dst=f"203.0.113.{i + 1}", ttl=64) /
                    UDP(sport=5000 + i, dport=53) / Raw(b"q" * 20)) for i in range(30)]
    red6 = [tagged(100, APP_RED, IPv6(src="2001:db8:1::10", dst=f"2001:db8:10:{i:x}::1", hlim=64) /
                   UDP(sport=6000 + i, dport=123) / Raw(b"n" * 48)) for i in range(10)]
    storage = [tagged(300, "02:55:00:00:00:01", IP(src="192.168.30.5", dst="192.168.30.9") /
                      TCP(sport=3260, dport=50000 + i), dst="02:55:00:00:00:02") for i in range(10)]
    # The first packet of each kind comes first: it starts the resolution of
    # its core router, whose answer arrives while the rest is held.
    pkts += [red4[0], blue4[0], red6[0]] + red4[1:] + blue4[1:] + red6[1:] + storage
    pkts += [
        # The apps ping their gateway (IPv4 and IPv6): echo replies.
        tagged(100, APP_RED, IP(src="10.1.0.10", dst="10.1.0.1") / ICMP(id=1, seq=1) / Raw(b"ping")),
        tagged(100, APP_RED, IPv6(src="2001:db8:1::10", dst="2001:db8:1::1") /
               ICMPv6EchoRequest(id=1, seq=1, data=b"ping6")),
        # Mistakes.
        tagged(999, APP_RED, IP(src="10.1.0.10", dst="198.51.100.1") / ICMP()),          # unknown_vlan
        tagged(100, APP_RED, IP(src="10.1.0.10", dst="198.51.100.1", ttl=1) /            # ttl_expired:
               UDP(sport=33434, dport=33434)),                                          # time exceeded
        tagged(100, APP_RED, IPv6(src="2001:db8:1::10", dst="2001:db8:99::1") /          # no_route:
               UDP(sport=7000, dport=7000)),                                            # unreachable
        tagged(100, APP_RED, ARP(hwsrc=APP_RED, psrc="10.1.0.10", pdst="10.1.0.99"),     # arp_not_for_us
               dst="ff:ff:ff:ff:ff:ff"),
        Ether(src=APP_RED, dst=WORKLOAD_MAC) / IP(src="10.1.0.10", dst="198.51.100.1") / ICMP(),  # untagged_on_trunk
        tagged(100, APP_RED, IP(src="10.1.0.10", dst="10.1.0.1") / UDP(sport=9, dport=9)),   # to_gateway
    ]
    return stamp(pkts, 1_700_000_000)


def core(port_mac, router_mac, gw4, router4, gw6=None, router6=None):
    """A core router answering cnfwd's ARP request (and NS) for it."""
    pkts = [Ether(src=router_mac, dst=port_mac) /
            ARP(op=2, hwsrc=router_mac, psrc=router4, hwdst=port_mac, pdst=gw4)]
    if gw6:
        pkts.append(Ether(src=router_mac, dst=port_mac) /
                    IPv6(src=router6, dst=gw6, hlim=255) /
                    ICMPv6ND_NA(R=1, S=1, O=1, tgt=router6) /
                    ICMPv6NDOptDstLLAddr(lladdr=router_mac))
    return stamp(pkts, 1_700_000_000.0005)


def main(out: Path):
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {
        out: workload(),
        out.parent / "red-core-in.pcap": core(RED_CORE_PORT, RED_CORE, "10.10.0.1", "10.10.0.254",
                                              "2001:db8:10:ff::1", "2001:db8:10:ff::fe"),
        out.parent / "blue-core-in.pcap": core(BLUE_CORE_PORT, BLUE_CORE, "10.10.0.1", "10.10.0.254"),
    }
    for path, pkts in files.items():
        wrpcap(str(path), pkts)
        print(f"wrote {len(pkts)} packets to {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "traffic" / "workload-in.pcap")
