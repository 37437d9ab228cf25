#!/usr/bin/env python3
"""Writes csn_dns_answers.txt: what every DNS response on port 53 in
../../../testdata/pcaps answers, according to scapy (independent of cnfwd's
parser). Run from this folder: python3 csn_dns_answers.py > csn_dns_answers.txt

One line per response (UDP payload, or TCP message after the 2-byte length):
  file <TAB> frame index (0-based) <TAB> question (lower case) <TAB>
  rcode <TAB> addresses: "addr/ttl" comma-separated, in answer order
Addresses are the A/AAAA (class IN) records of the answer section whose owner
is the question or a name reached from it through CNAMEs of the answer section.
"""
import os
import sys

from scapy.all import DNS, IP, IPv6, TCP, UDP, PcapReader, raw  # noqa: E402

PCAPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../testdata/pcaps")
FILES = ["DnsPackets.pcap", "dns-two-responses.pcap", "dns_tcp.pcap", "wikipedia.pcap",
         "communityid-icmp6.pcap", "raw_ip.pcap"]


def name(b):
    if isinstance(b, bytes):
        b = b.decode("ascii", "replace")
    return b.rstrip(".").lower()


def records(section, count):
    # scapy >= 2.5 keeps sections as lists; older as chained layers.
    if section is None:
        return []
    if isinstance(section, list):
        return section
    out, rr = [], section
    while rr is not None and len(out) < count:
        out.append(rr)
        rr = rr.payload if rr.payload.__class__.__name__.startswith("DNSRR") else None
    return out


def answers(payload):
    d = DNS(payload)
    if d.qr != 1 or d.opcode != 0 or d.qdcount != 1:
        return None
    q = records(d.qd, 1)[0]
    qname = name(q.qname)
    an = records(d.an, d.ancount)
    chain = [qname]
    while len(chain) < 16:
        nxt = [name(r.rdata) for r in an if r.type == 5 and r.rclass == 1 and name(r.rrname) == chain[-1]]
        if not nxt or nxt[0] in chain:
            break
        chain.append(nxt[0])
    addrs = [f"{r.rdata}/{r.ttl}" for r in an
             if r.type in (1, 28) and r.rclass == 1 and name(r.rrname) in chain]
    return qname, d.rcode, addrs


def main():
    for f in FILES:
        streams = {}
        for i, p in enumerate(PcapReader(os.path.join(PCAPS, f))):
            ip = p.getlayer(IP) or p.getlayer(IPv6)
            if ip is None:
                continue
            if UDP in p and p[UDP].sport == 53:
                msgs = [raw(p[UDP].payload)]
            elif TCP in p and p[TCP].sport == 53 and len(p[TCP].payload) > 0:
                key = (ip.src, ip.dst, p[TCP].sport, p[TCP].dport)
                buf = streams.get(key, b"") + raw(p[TCP].payload)
                msgs = []
                while len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
                    n = int.from_bytes(buf[:2], "big")
                    msgs.append(buf[2:2 + n])
                    buf = buf[2 + n:]
                streams[key] = buf
            else:
                continue
            for m in msgs:
                try:
                    a = answers(m)
                except Exception as e:  # scapy could not parse it: not listed
                    print(f"# {f} {i}: scapy: {e}", file=sys.stderr)
                    continue
                if a is not None:
                    print(f"{f}\t{i}\t{a[0]}\t{a[1]}\t{','.join(a[2])}")


main()
