#!/usr/bin/env python3
"""Writes examples/traffic/workload-in.pcap: what the workload's trunk sends
in examples/edge-site.toml. A mix an operator would recognise: red and blue
tenants reaching their cores over the same addresses (VRFs keep them apart),
IPv6, storage frames bridged on VLAN 300, and the usual mistakes that get
dropped with a reason (unknown VLAN, TTL 1, no route, ARP, untagged)."""
import sys
from pathlib import Path

from scapy.all import ARP, IP, UDP, TCP, ICMP, IPv6, Dot1Q, Ether, Raw, wrpcap

WORKLOAD_MAC = "02:00:00:00:01:01"   # cnfwd's MAC on the workload trunk
APP_RED = "02:aa:00:00:00:10"
APP_BLUE = "02:bb:00:00:00:10"


def tagged(vlan, src, pkt, dst=WORKLOAD_MAC):
    return Ether(src=src, dst=dst) / Dot1Q(vlan=vlan) / pkt


def main(out: Path):
    pkts = []
    for i in range(40):   # red: app -> Internet via red-core
        pkts.append(tagged(100, APP_RED, IP(src="10.1.0.10", dst=f"198.51.100.{i + 1}", ttl=64) /
                           TCP(sport=40000 + i, dport=443, flags="S")))
    for i in range(30):   # blue: the same source address, its own VRF
        pkts.append(tagged(200, APP_BLUE, IP(src="10.1.0.10", dst=f"203.0.113.{i + 1}", ttl=64) /
                           UDP(sport=5000 + i, dport=53) / Raw(b"q" * 20)))
    for i in range(10):   # red IPv6 to a static /48 on red-core
        pkts.append(tagged(100, APP_RED, IPv6(src="2001:db8:1::10", dst=f"2001:db8:10:{i:x}::1", hlim=64) /
                           UDP(sport=6000 + i, dport=123) / Raw(b"n" * 48)))
    for i in range(10):   # storage: bridged on the L2 network
        pkts.append(tagged(300, "02:55:00:00:00:01", IP(src="192.168.30.5", dst="192.168.30.9") /
                           TCP(sport=3260, dport=50000 + i), dst="02:55:00:00:00:02"))
    # Mistakes, each dropped under its own reason.
    pkts.append(tagged(999, APP_RED, IP(src="10.1.0.10", dst="198.51.100.1") / ICMP()))         # unknown_vlan
    pkts.append(tagged(100, APP_RED, IP(src="10.1.0.10", dst="198.51.100.1", ttl=1) / ICMP()))  # ttl_expired
    pkts.append(tagged(100, APP_RED, IPv6(src="2001:db8:1::10", dst="2001:db8:99::1") / ICMP()))  # no_route
    pkts.append(tagged(100, APP_RED, ARP(psrc="10.1.0.10", pdst="10.1.0.1"), dst="ff:ff:ff:ff:ff:ff"))  # arp
    pkts.append(Ether(src=APP_RED, dst=WORKLOAD_MAC) / IP(src="10.1.0.10", dst="198.51.100.1") / ICMP())  # untagged_on_trunk
    pkts.append(tagged(100, APP_RED, IP(src="10.1.0.10", dst="10.1.0.1") / ICMP()))              # to_gateway
    for k, p in enumerate(pkts):
        p.time = 1_700_000_000 + k / 1000
    out.parent.mkdir(parents=True, exist_ok=True)
    wrpcap(str(out), pkts)
    print(f"wrote {len(pkts)} packets to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "traffic" / "workload-in.pcap")
