#!/usr/bin/env bash
# Reference for issue 3: DPDK's own L3 forwarder, the `l3fwd` example in LPM
# mode, forwarding on one core over the same full Internet IPv4 table cnfwd
# uses (all 901,899 prefixes of testdata/routes/ipv4-bgp.txt.xz, each with
# next hop port 0), on the vdev of scripts/bench-testpmd.sh:
#   net_pcap0,rx_pcap=<traffic>,infinite_rx=1   (TX is dropped by the vdev)
# with dpdk-testpmd macswap on the same traffic as the same-run reference.
#
#   scripts/bench-l3fwd.sh [SECONDS]      (default 10; l3fwd's sample length)
#
# l3fwd: built once by scripts/bench-build-l3fwd.sh (sources from dpdk-doc,
#   the example's Makefile, cached in ${CARGO_TARGET_DIR:-target}/l3fwd/),
#   with its two patches: LPM room for the real table, and no Rx checksum
#   offload request (net_pcap has none).
#   Run: l3fwd -l 1 ... --vdev=net_pcap0,... -- -p 0x1 -P --config="(0,0,1)"
#   --lookup=lpm --parse-ptype --rule_ipv4=ALL --rule_ipv6=ONE. "-l 1", not
#   "-l 0-1": l3fwd opens one TX queue per EAL lcore and this vdev has one
#   ("nb_tx_queues=2 > 1"), so lcore 1 is the main and only forwarding lcore;
#   EAL's control threads (telemetry) stay on cpu 0. --parse-ptype is required
#   (net_pcap reports no packet types; without it l3fwd exits "ptype check
#   fails") and it makes l3fwd parse every frame in software, as cnfwd does.
#   l3fwd in LPM mode wants an IPv6 rule file too: one route, 2001:db8::/32.
#   Loading 901,899 routes takes 2-3 minutes (rte_lpm_add scans the rules of
#   the same depth linearly, so the load is quadratic in the /24 count).
# Rate: l3fwd prints no statistics; the DPDK telemetry socket (v2 protocol,
#   /var/run/dpdk/<prefix>/dpdk_telemetry.v2, present with --no-shconf) is
#   read for /ethdev/stats,0 after a 2 s warm-up and SECONDS later:
#   Mpps = opackets delta / time delta (ipackets, imissed, oerrors shown too).
# Check that l3fwd really routes by LPM: with one port, a lookup miss also goes
#   back out port 0, so counters alone cannot tell. A second l3fwd, run in
#   parallel with the measured one while both load the table, gets the same
#   frames once (finite rx_pcap) on port 0 and the same table with next hop
#   port 1 (net_pcap1, tx_pcap): every frame must come out of port 1 with
#   destination MAC 02:00:00:00:00:01 (l3fwd's default for port 1), TTL 63
#   and its own destination address, none out of port 0. It is stopped before
#   anything is measured.
# testpmd: dpdk-testpmd macswap with the EAL and testpmd arguments of
#   scripts/bench-testpmd.sh on the same untagged traffic, rate read the same
#   way over 8 s after a 2 s warm-up.
# Traffic: benches/examples/make_bench_traffic.rs --untagged: 4096 64-byte
#   IPv4/UDP frames (no 802.1Q tag; same addresses as bench-testpmd.sh's VLAN
#   traffic), destinations random across the whole table; l3fwd runs with -P
#   (promiscuous) so the destination MAC does not matter.
# Nothing leaves the machine: vdevs only.
set -euo pipefail

SECS=${1:-10}
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 2 ]] || { echo "usage: $0 [SECONDS>=2]" >&2; exit 2; }
TP_SECS=8
WARMUP=2
NPKT=4096

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ROUTES=$ROOT/testdata/routes/ipv4-bgp.txt.xz
TESTPMD=${TESTPMD:-$(command -v dpdk-testpmd || true)}
[[ -n $TESTPMD ]] || { echo "dpdk-testpmd not found (Debian: apt-get install dpdk)" >&2; exit 1; }
[[ -r $ROUTES ]] || { echo "$ROUTES not found" >&2; exit 1; }
command -v pkg-config >/dev/null && pkg-config --exists libdpdk \
    || { echo "libdpdk not found by pkg-config (Debian: apt-get install libdpdk-dev pkg-config)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/cnfwd-bench-l3fwd.XXXXXX)
L3_PREFIX=bench-l3fwd-$$
CK_PREFIX=bench-l3fwd-check-$$
TP_PREFIX=bench-l3fwd-tp-$$
PIDS=()

cleanup() {
    local rc=$? p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
    for p in "$L3_PREFIX" "$CK_PREFIX" "$TP_PREFIX"; do
        rm -rf "/var/run/dpdk/$p" "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$p"
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops PID with SIGTERM (l3fwd and testpmd quit cleanly on it, flushing
# their pcap output), SIGKILL after 15 s.
stop() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# --- l3fwd: build once, cached (patches: see scripts/bench-build-l3fwd.sh) ---
L3FWD=$("$ROOT/scripts/bench-build-l3fwd.sh" "$TARGET/l3fwd") || { echo "building l3fwd failed" >&2; exit 1; }

# --- traffic and rule files -----------------------------------------------
echo "== building make_bench_traffic (release)" >&2
(cd "$ROOT" && cargo build --quiet --release -p cnfwd-benches --example make_bench_traffic)
"$TARGET/release/examples/make_bench_traffic" --untagged "$TMP/traffic.pcap" "$NPKT" 1

# l3fwd's rule format (lpm_route_parse.c): "R<addr>/<len> <out port>".
xz -dc "$ROUTES" | awk 'NF { print "R" $1 " 0" }' > "$TMP/v4.rules"
awk '{ $2 = 1; print }' "$TMP/v4.rules" > "$TMP/v4-port1.rules"
printf '# l3fwd --lookup=lpm needs an IPv6 rule file too\nR2001:db8::/32 0\n' > "$TMP/v6.rules"
NROUTES=$(wc -l < "$TMP/v4.rules")
# An empty capture: RX of the check's port 1 (net_pcap needs one).
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00' \
    > "$TMP/empty.pcap"

cat > "$TMP/tool.py" <<'EOF'
"""Telemetry (v2 socket) sampling and the check of l3fwd's output."""
import json, os, socket, struct, sys, time

def stats(sock, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)
    try:
        s.connect(sock)
        greeting = json.loads(s.recv(4096))
        s.send(f"/ethdev/stats,{port}".encode())
        reply = json.loads(s.recv(greeting.get("max_output_len", 16384)))
    finally:
        s.close()
    st = reply.get("/ethdev/stats")
    if not isinstance(st, dict):
        raise RuntimeError(f"no stats for port {port}: {reply}")
    return time.monotonic(), st

def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False

def wait(pid, sock, port, field, at_least, timeout):
    """Until stats[field] >= at_least; exit 1 if pid dies or on timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not alive(pid):
            sys.exit(f"process {pid} exited")
        try:
            if stats(sock, port)[1][field] >= at_least:
                return
        except (OSError, ValueError, RuntimeError):
            pass  # socket not there yet, or EAL still starting
        time.sleep(0.5)
    sys.exit(f"timeout waiting for {field} >= {at_least} on port {port}")

def rate(sock, port, warmup, secs):
    time.sleep(warmup)
    t0, a = stats(sock, port)
    time.sleep(secs)
    t1, b = stats(sock, port)
    dt = t1 - t0
    d = {k: b[k] - a[k] for k in ("ipackets", "opackets", "imissed", "ierrors", "oerrors", "rx_nombuf")}
    print(f"{d['ipackets'] / dt / 1e6:.2f} {d['opackets'] / dt / 1e6:.2f} {d['ipackets']} "
          f"{d['opackets']} {d['imissed'] + d['ierrors'] + d['rx_nombuf']} {d['oerrors']} {dt:.2f}")

def frames(path):
    data = open(path, "rb").read()
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out

def check(inp, out0, out1):
    """in / port 0 / port 1 counts, then how many port-1 frames are right."""
    fin, f0, f1 = frames(inp), frames(out0), frames(out1)
    mac = sum(f[0:6] == bytes.fromhex("020000000001") for f in f1)
    ttl = sum(f[22] == 63 for f in f1)
    # l3fwd keeps the order of a single queue: frame i must carry dst i.
    dst = sum(a[30:34] == b[30:34] for a, b in zip(fin, f1)) if len(f1) == len(fin) else 0
    print(len(fin), len(f0), len(f1), mac, ttl, dst)

cmd = sys.argv[1]
if cmd == "wait":
    wait(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), float(sys.argv[7]))
elif cmd == "rate":
    rate(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
elif cmd == "check":
    check(sys.argv[2], sys.argv[3], sys.argv[4])
EOF
tool() { python3 "$TMP/tool.py" "$@"; }
sock() { echo "/var/run/dpdk/$1/dpdk_telemetry.v2"; }

echo "== load before: $(uptime)" >&2
LOAD_BEFORE=$(uptime | sed 's/.*load average: //')

# --- l3fwd: check run (lcore 0) and measured run (lcore 1), loading in parallel
echo "== l3fwd: loading $NROUTES IPv4 routes in two processes (check + measured), takes minutes" >&2
"$L3FWD" -l 0 --no-huge -m 1024 --no-pci --no-shconf --file-prefix "$CK_PREFIX" \
    --vdev="net_pcap0,rx_pcap=$TMP/traffic.pcap,tx_pcap=$TMP/check-out0.pcap" \
    --vdev="net_pcap1,rx_pcap=$TMP/empty.pcap,tx_pcap=$TMP/check-out1.pcap" -- \
    -p 0x3 -P --config="(0,0,0),(1,0,0)" --lookup=lpm --parse-ptype \
    --rule_ipv4="$TMP/v4-port1.rules" --rule_ipv6="$TMP/v6.rules" \
    </dev/null > "$TMP/l3fwd-check.log" 2>&1 &
CK_PID=$!
PIDS+=("$CK_PID")
"$L3FWD" -l 1 --no-huge -m 1024 --no-pci --no-shconf --file-prefix "$L3_PREFIX" \
    --vdev="net_pcap0,rx_pcap=$TMP/traffic.pcap,infinite_rx=1" -- \
    -p 0x1 -P --config="(0,0,1)" --lookup=lpm --parse-ptype \
    --rule_ipv4="$TMP/v4.rules" --rule_ipv6="$TMP/v6.rules" \
    </dev/null > "$TMP/l3fwd.log" 2>&1 &
L3_PID=$!
PIDS+=("$L3_PID")

fail() { echo "$1; log tail:" >&2; grep -v '^LPM: Adding route' "$2" | tail -20 >&2; exit 1; }

T0=$SECONDS
# The check: all frames read on port 0, then all of them out of port 1.
tool wait "$CK_PID" "$(sock "$CK_PREFIX")" 0 ipackets "$NPKT" 900 \
    || fail "l3fwd (check) did not start forwarding" "$TMP/l3fwd-check.log"
tool wait "$CK_PID" "$(sock "$CK_PREFIX")" 1 opackets "$NPKT" 5 || true
sleep 0.5
stop "$CK_PID"
read -r CK_IN CK_OUT0 CK_OUT1 CK_MAC CK_TTL CK_DST < <(tool check "$TMP/traffic.pcap" \
    "$TMP/check-out0.pcap" "$TMP/check-out1.pcap") \
    || fail "reading the check's captures failed" "$TMP/l3fwd-check.log"
CK_ROUTES=$(grep -c '^LPM: Adding route [0-9.]* ' "$TMP/l3fwd-check.log" || true)
rm -rf "/var/run/dpdk/$CK_PREFIX"

# The measurement.
tool wait "$L3_PID" "$(sock "$L3_PREFIX")" 0 ipackets 1 900 \
    || fail "l3fwd did not start forwarding" "$TMP/l3fwd.log"
LOADTIME=$((SECONDS - T0))
echo "== l3fwd forwarding (tables loaded after ~${LOADTIME} s); ${WARMUP} s warm-up, ${SECS} s sample" >&2
read -r L3_RX L3_TX L3_DIN L3_DOUT L3_RXERR L3_TXERR L3_DT < <(tool rate "$(sock "$L3_PREFIX")" 0 "$WARMUP" "$SECS") \
    || fail "reading l3fwd's telemetry failed" "$TMP/l3fwd.log"
kill -0 "$L3_PID" 2>/dev/null || fail "l3fwd exited early" "$TMP/l3fwd.log"
stop "$L3_PID"
L3_ROUTES=$(grep -c '^LPM: Adding route [0-9.]* ' "$TMP/l3fwd.log" || true)
rm -rf "/var/run/dpdk/$L3_PREFIX"

# --- testpmd macswap, same traffic ---------------------------------------
echo "== dpdk-testpmd macswap, ${WARMUP} s warm-up, ${TP_SECS} s sample" >&2
"$TESTPMD" -l 0-1 --no-huge -m 512 --no-pci --no-shconf --file-prefix "$TP_PREFIX" \
    --vdev="net_pcap0,rx_pcap=$TMP/traffic.pcap,infinite_rx=1" -- \
    --port-topology=loop --forward-mode=macswap --auto-start \
    --total-num-mbufs=16384 --stats-period 1 </dev/null > "$TMP/testpmd.log" 2>&1 &
TP_PID=$!
PIDS+=("$TP_PID")
tool wait "$TP_PID" "$(sock "$TP_PREFIX")" 0 ipackets 1 60 \
    || fail "testpmd did not start forwarding" "$TMP/testpmd.log"
read -r TP_RX TP_TX TP_DIN TP_DOUT TP_RXERR TP_TXERR TP_DT < <(tool rate "$(sock "$TP_PREFIX")" 0 "$WARMUP" "$TP_SECS") \
    || fail "reading testpmd's telemetry failed" "$TMP/testpmd.log"
stop "$TP_PID"
rm -rf "/var/run/dpdk/$TP_PREFIX"
LOAD_AFTER=$(uptime | sed 's/.*load average: //')

# --- report ---------------------------------------------------------------
ratio=$(awk -v a="$L3_TX" -v b="$TP_TX" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "n/a" }')
fwd=$(awk -v i="$L3_DIN" -v o="$L3_DOUT" 'BEGIN { printf "%.4f", (i > 0) ? o / i : 0 }')
if (( CK_IN == NPKT && CK_OUT0 == 0 && CK_OUT1 == NPKT && CK_MAC == NPKT && CK_TTL == NPKT && CK_DST == NPKT )); then
    CHECK="OK: all $CK_OUT1 frames routed by LPM to the check's port 1 (dst MAC, TTL 63, dst IP right), 0 back out port 0"
else
    CHECK="FAILED: in $CK_IN, out port 0 $CK_OUT0, out port 1 $CK_OUT1 (right MAC $CK_MAC, TTL 63 $CK_TTL, dst IP $CK_DST)"
fi

echo
echo "DPDK l3fwd (LPM, $L3_ROUTES IPv4 routes) vs dpdk-testpmd macswap: one forwarding core each,"
echo "64 B untagged IPv4/UDP frames ($NPKT, random destinations), net_pcap0 infinite_rx, TX dropped"
printf '%-28s %9s %9s %12s %12s %8s\n' "" "rx Mpps" "tx Mpps" "rx pkts" "tx pkts" "secs"
printf '%-28s %9s %9s %12s %12s %8s\n' "l3fwd-lpm" "$L3_RX" "$L3_TX" "$L3_DIN" "$L3_DOUT" "$L3_DT"
printf '%-28s %9s %9s %12s %12s %8s\n' "testpmd macswap" "$TP_RX" "$TP_TX" "$TP_DIN" "$TP_DOUT" "$TP_DT"
echo "l3fwd opackets/ipackets: $fwd (rx errors/missed/nombuf $L3_RXERR, oerrors $L3_TXERR)"
echo "l3fwd route check ($CK_ROUTES routes loaded): $CHECK"
echo "l3fwd table load: ~${LOADTIME} s; load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
echo "l3fwd-lpm Mpps: $L3_TX   testpmd macswap Mpps: $TP_TX   ratio l3fwd / testpmd macswap (tx): $ratio"
[[ $CHECK == OK* ]] || exit 1
