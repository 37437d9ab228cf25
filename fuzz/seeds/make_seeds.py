#!/usr/bin/env python3
"""Builds the seed corpora of cnfwd's fuzz targets from the repository's own
data (no network, no third-party modules):

- pipeline: frames of testdata/pcaps/* and pcap-tests/cases/*/in-*.pcap, as
  they are and re-addressed to the fuzz configuration (trunk MAC, VLAN 100 /
  200), plus a few hand-built scenarios (ARP/ND to the gateway, echo, TTL 1,
  resolution, CSN DNS learning, L2 flooding), in the pipeline target's
  layout (src/frames.rs);
- capture: the capture files themselves (cut to 64 KiB);
- config: every configuration TOML of the repository;
- control: one request line per command, with valid and invalid parameters;
- dns: UDP/53 payloads and TCP/53 streams of the captures.

Usage: make_seeds.py REPO OUTDIR (writes OUTDIR/<target>/<sha1>).
`cargo fuzz cmin` then keeps the ones that add coverage.
"""
import glob
import hashlib
import os
import struct
import sys

REPO, OUT = sys.argv[1], sys.argv[2]
TRUNK_MAC = bytes([2, 0, 0, 0, 0, 1])
CSN_MAC = bytes([2, 0, 0, 0, 0, 4])
HOST_MAC = bytes([2, 0xAA, 0, 0, 1, 0x10])
BCAST = b"\xff" * 6


def put(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def read_pcap(path):
    """Frames of a classic pcap (Ethernet, or raw IP wrapped in Ethernet);
    pcapng and other link types give nothing."""
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 24:
        return []
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return []
    link = struct.unpack(e + "I", b[20:24])[0]
    out, at = [], 24
    while at + 16 <= len(b):
        incl = struct.unpack(e + "I", b[at + 8 : at + 12])[0]
        data = b[at + 16 : at + 16 + incl]
        at += 16 + incl
        if link == 1:
            out.append(data)
        elif link in (101, 12, 14) and data:
            et = b"\x86\xdd" if data[0] >> 4 == 6 else b"\x08\x00"
            out.append(TRUNK_MAC + HOST_MAC + et + data)
    return out


def untag(f):
    """(ethertype, l3 bytes) under any 802.1Q/802.1ad tags."""
    at = 12
    while at + 4 <= len(f) and f[at : at + 2] in (b"\x81\x00", b"\x88\xa8"):
        at += 4
    return f[at : at + 2], f[at + 2 :]


def tagged(dst, src, vlan, et, l3):
    return dst + src + b"\x81\x00" + struct.pack(">H", vlan) + et + l3


def join(burst, frames):
    out = bytes([(burst - 1) % 32])
    for port, f in frames[:32]:
        f = f[:65535]
        out += bytes([port]) + struct.pack(">H", len(f)) + f
    return out


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(src, dst, proto, payload, ttl=64):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, ttl, proto, 0,
                    bytes(src), bytes(dst))
    h = h[:10] + struct.pack(">H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, payload):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp_syn(sport, dport):
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 65535, 0, 0)


def dns_answer(name, addr, ttl=300):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return (struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + q + b"\0\x01\0\x01"
            + b"\xc0\x0c\0\x01\0\x01" + struct.pack(">IH", ttl, 4) + bytes(addr))


def arp(op, smac, sip, tmac, tip):
    return struct.pack(">HHBBH", 1, 0x0800, 6, 4, op) + smac + bytes(sip) + tmac + bytes(tip)


def captures():
    paths = sorted(glob.glob(os.path.join(REPO, "testdata/pcaps/*.pcap*")))
    paths += sorted(glob.glob(os.path.join(REPO, "pcap-tests/cases/*/*.pcap")))
    return paths


def pipeline():
    for path in captures():
        if "/expected" in path:
            continue
        frames = read_pcap(path)
        for chunk in range(0, min(len(frames), 4 * 32), 32):
            part = frames[chunk : chunk + 32]
            raw = [(0 if f[12:14] in (b"\x81\x00", b"\x88\xa8") else 1 + i % 4, f)
                   for i, f in enumerate(part)]
            put("pipeline", join(32, raw))
            moved = []
            for i, f in enumerate(part):
                et, l3 = untag(f)
                if et in (b"\x08\x00", b"\x86\xdd", b"\x08\x06"):
                    moved.append((0, tagged(TRUNK_MAC, f[6:12], 100 + 100 * (i % 2), et, l3)))
            if moved:
                put("pipeline", join(1 + len(moved) // 2, moved))
    gw, host, other = [10, 1, 0, 1], [10, 1, 0, 10], [10, 1, 0, 11]
    dns_srv, api = [192, 0, 2, 53], [203, 0, 113, 7]
    t100 = lambda dst, et, l3: (0, tagged(dst, HOST_MAC, 100, et, l3))
    scenarios = [
        [t100(BCAST, b"\x08\x06", arp(1, HOST_MAC, host, b"\0" * 6, gw))],
        [t100(TRUNK_MAC, b"\x08\x00", ip4(host, gw, 1, b"\x08\0\xf7\xff\0\0\0\0"))],
        [t100(TRUNK_MAC, b"\x08\x00", ip4(host, [10, 50, 1, 1], 17, udp(1, 2, b"x"), ttl=1))],
        [t100(TRUNK_MAC, b"\x08\x00", ip4(host, [10, 50, 1, 1], 17, udp(1, 2, b"x" * 1500)))],
        [t100(TRUNK_MAC, b"\x08\x00", ip4([10, 50, 0, 9], other, 17, udp(1, 2, b"y"))),
         t100(TRUNK_MAC, b"\x08\x06", arp(2, bytes([2, 0xAA, 0, 0, 1, 0x11]), other, TRUNK_MAC, gw))],
        [t100(TRUNK_MAC, b"\x08\x00", ip4(host, dns_srv, 17, udp(5353, 53, b"\x12\x34\x01\0\0\1\0\0\0\0\0\0\3api\7example\3com\0\0\1\0\1"))),
         (3, CSN_MAC + bytes([2, 0xCC, 0, 0, 9, 0xFE]) + b"\x08\x00"
          + ip4(dns_srv, host, 17, udp(53, 5353, dns_answer("api.example.com", api)))),
         t100(TRUNK_MAC, b"\x08\x00", ip4(host, api, 6, tcp_syn(40000, 443)))],
        [(0, tagged(BCAST, HOST_MAC, 300, b"\x08\x00", ip4(host, gw, 17, udp(1, 2, b"l2")))),
         (4, bytes([2, 0xAA, 0, 0, 1, 0x10]) + bytes([2, 0xDD, 0, 0, 0, 1]) + b"\x08\x00" + ip4(gw, host, 17, udp(2, 1, b"back")))],
    ]
    for s in scenarios:
        put("pipeline", join(32, s))


def capture():
    for path in captures():
        with open(path, "rb") as f:
            put("capture", f.read()[:65536])


def config():
    for pattern in ("examples/*.toml", "pcap-tests/cases/*/*.toml", "deploy/**/*.toml"):
        for path in sorted(glob.glob(os.path.join(REPO, pattern), recursive=True)):
            with open(path, "rb") as f:
                put("config", f.read())
    with open(os.path.join(REPO, "fuzz/src/lib.rs")) as f:
        text = f.read()
    put("config", text.split('r#"', 1)[1].split('"#', 1)[0].encode())


def control():
    lines = [
        "/health", "/ports", "/networks", "/vrfs", "/routes", "/neighbors", "/drops",
        "/workers", "/config", "/stats", "/trace/show", "/csn/flows", "/csn/learned",
        "/csn/allowlist", "/stats/clear", "/trace/stop",
        '/routes,{"vrf": "red", "prefix": "10.0.0.0/8"}',
        '/routes,{"vrf": "blue"}',
        '/route/add,{"vrf": "red", "prefix": "10.60.0.0/16", "next_hop": "10.10.0.254"}',
        '/route/add,{"vrf": "blue", "prefix": "fd99::/48", "network": "blue-core"}',
        '/route/del,{"vrf": "red", "prefix": "10.50.0.0/16"}',
        '/neighbor/add,{"network": "red-app", "ip": "10.1.0.11", "mac": "02:aa:00:00:01:11"}',
        '/neighbor/del,{"network": "red-core", "ip": "fd10::fe"}',
        '/allowlist/add,{"category": "test", "domain_name": "x.example.org", "port": 443}',
        '/allowlist/del,{"category": "test", "domain_name": "api.example.com", "port": 443}',
        '/csn/flows,{"limit": 5}',
        '/csn/learned,{"limit": 0}',
        '/trace/start,{"count": 3, "port": "trunk"}',
        '/config/apply,{"toml": "[[ports]]\\nname = \\"p\\"\\nbackend = \\"pcap\\""}',
        '/route/add,{"vrf": "nope", "prefix": "10.0.0.0/33"}',
        "not a command",
        "/route/add,",
    ]
    for l in lines:
        put("control", l.encode())
    put("control", "\n".join(lines).encode())
    with open(os.path.join(REPO, "fuzz/src/lib.rs")) as f:
        cfg = f.read().split('r#"', 1)[1].split('"#', 1)[0]
    import json
    put("control", ("/config/apply," + json.dumps({"toml": cfg})).encode())


def dns():
    streams = {}
    for path in captures():
        for f in read_pcap(path):
            et, l3 = untag(f)
            if et != b"\x08\x00" or len(l3) < 20:
                continue
            hl = (l3[0] & 15) * 4
            proto = l3[9]
            l4 = l3[hl:]
            if len(l4) < 8:
                continue
            sport, dport = struct.unpack(">HH", l4[:4])
            if 53 not in (sport, dport):
                continue
            if proto == 17:
                put("dns", l4[8:])
            elif proto == 6 and len(l4) >= 20:
                off = (l4[12] >> 4) * 4
                key = (path, l3[12:20], sport, dport)
                streams[key] = streams.get(key, b"") + l4[off:]
    for s in streams.values():
        if s:
            put("dns", s)


pipeline()
capture()
config()
control()
dns()
