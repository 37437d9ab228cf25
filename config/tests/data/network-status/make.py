#!/usr/bin/env python3
"""Writes the fixtures of this directory (run it here; the outputs are committed).

Each *.annotations file is what kubelet writes for a downward-API volume of
metadata.annotations: one key="value" line per annotation, keys sorted, values
quoted by Go's %q (strconv.Quote), no newline after the last line. Multus
writes k8s.v1.cni.cncf.io/network-status as indented JSON (4 spaces); the
entries follow the NPWG multi-net spec and its device-info spec (type "pci",
versions 1.0.0 and 1.1.0). Addresses are from the documentation ranges.

two-vfs.generated.toml is the output of
`cnfwd generate-config --from-network-status two-vfs.annotations`, checked
by config/tests/attachment.rs.
"""
import json
import unicodedata

STATUS = "k8s.v1.cni.cncf.io/network-status"


def go_quote(s):
    """Go's strconv.Quote: printable runes as they are, the rest escaped."""
    out = ['"']
    short = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
             "\t": "\\t", "\v": "\\v"}
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == " " or unicodedata.category(ch)[0] in "LMNPS":
            out.append(ch)
        elif ch in short:
            out.append(short[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        elif ord(ch) < 0x10000:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append("\\U%08x" % ord(ch))
    out.append('"')
    return "".join(out)


def annotations(m):
    return "\n".join("%s=%s" % (k, go_quote(m[k])) for k in sorted(m))


def status(entries):
    return json.dumps(entries, indent=4)


DEFAULT = {
    "name": "cbr0",
    "interface": "eth0",
    "ips": ["10.244.1.17"],
    "mac": "0a:58:0a:f4:01:11",
    "default": True,
    "dns": {},
}

POD = [
    DEFAULT,
    {   # device-info 1.1.0, with the physical function
        "name": "cnf/sriov-red",
        "interface": "net1",
        "ips": ["192.0.2.10"],
        "mac": "02:0a:00:00:01:01",
        "dns": {},
        "device-info": {
            "type": "pci",
            "version": "1.1.0",
            "pci": {"pci-address": "0000:af:06.0", "pf-pci-address": "0000:af:00.0"},
        },
    },
    {   # written without namespace (the pod's own), device-info "v1.0.0"
        "name": "sriov-blue",
        "interface": "net2",
        "ips": ["198.51.100.20", "2001:db8:20::14"],
        "mac": "02:0a:00:00:02:01",
        "dns": {},
        "device-info": {
            "type": "pci",
            "version": "v1.0.0",
            "pci": {"pci-address": "0000:AF:0a.2"},
        },
    },
    {   # not SR-IOV: an af_packet port may use its interface
        "name": "cnf/macvlan-mgmt",
        "interface": "net3",
        "ips": ["203.0.113.5"],
        "mac": "02:0a:00:00:03:01",
        "dns": {},
    },
    {   # a device, but not a PCI one
        "name": "cnf/vhost-a",
        "interface": "net4",
        "mac": "02:0a:00:00:04:01",
        "dns": {},
        "device-info": {
            "type": "vhost-user",
            "version": "1.0.0",
            "vhost-user": {"mode": "server", "path": "/var/run/vhost-user/net4.sock"},
        },
    },
    {   # SR-IOV whose CNI reported no device-info: the resource fallback
        "name": "cnf/sriov-green",
        "interface": "net5",
        "ips": [],
        "mac": "02:0a:00:00:05:01",
        "dns": {},
    },
]

OTHER = {
    "k8s.v1.cni.cncf.io/networks": "cnf/sriov-red@net1, sriov-blue, cnf/macvlan-mgmt, cnf/vhost-a, cnf/sriov-green",
    "kubernetes.io/config.seen": "2024-05-02T08:15:00.123456789Z",
    "kubernetes.io/config.source": "api",
    # Exercises the unquoting: a tab, a no-break space (\u00a0), a control
    # character (\x01), printable non-ASCII kept as is.
    "example.com/note": "caf\u00e9\tno\u00a0break \x01 \u2713 \U0001F600",
}

# Two VFs of one network (Multus lists the network twice, by interface), one
# more attachment; device-info 1.0.0; addresses with prefix lengths, as the
# NPWG spec's examples write them.
TWICE = [
    dict(DEFAULT, ips=["10.244.2.9"], mac="0a:58:0a:f4:02:09"),
    {
        "name": "edge/uplink",
        "interface": "net1",
        "ips": ["192.0.2.66/26"],
        "mac": "02:0b:00:00:01:01",
        "dns": {},
        "device-info": {"type": "pci", "version": "1.0.0",
                        "pci": {"pci-address": "0000:3b:02.1"}},
    },
    {
        "name": "edge/uplink",
        "interface": "net2",
        "ips": ["192.0.2.67/26"],
        "mac": "02:0b:00:00:01:02",
        "dns": {},
        "device-info": {"type": "pci", "version": "1.0.0",
                        "pci": {"pci-address": "0000:3b:02.2"}},
    },
    {
        "name": "edge/access",
        "interface": "net3",
        "mac": "02:0b:00:00:02:01",
        "dns": {},
        "device-info": {"type": "pci", "version": "1.0.0",
                        "pci": {"pci-address": "0000:3b:0a.0"}},
    },
]


def write(name, text):
    with open(name, "w", encoding="utf-8", newline="") as f:
        f.write(text)


write("pod.annotations", annotations(dict(OTHER, **{STATUS: status(POD)})))
write("pod-network-status.json", status(POD) + "\n")
write("two-vfs.annotations", annotations({STATUS: status(TWICE), "kubernetes.io/config.source": "api"}))

# --- malformed --------------------------------------------------------------
write("no-network-status.annotations", annotations(OTHER))
# A comma missing between two members, like a hand-edited annotation.
bad = status(POD[:2]).replace('"pci-address": "0000:af:06.0",', '"pci-address": "0000:af:06.0"')
write("bad-json.annotations", annotations(dict(OTHER, **{STATUS: bad})))
# The JSON pasted in without Go quoting: the first inner quote ends the value.
lines = annotations(OTHER).split("\n")
lines.append('%s="%s"' % (STATUS, json.dumps(POD[:2])))
write("bad-quoting.annotations", "\n".join(sorted(lines)))
