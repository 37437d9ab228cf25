#!/usr/bin/env bash
# Forwarding rate of cnfwd on AF_PACKET against the Linux kernel, same run,
# same namespaces, same veth pairs, same traffic (the engine/AF_PACKET issue).
#
#   scripts/bench-kernel.sh [SECONDS]      (default 10; each forwarder runs SECONDS)
#
# Needs root, iproute2, ethtool (optional), taskset. Builds cnfwd and
# cnfwd-bench (release) first.
#
# Topology (namespaces with a unique suffix, deleted on exit):
#
#   gen-$S: g0 --veth-- f0 :fwd-$S: f1 --veth-- s0 :sink-$S
#           10.1.0.2        10.1.0.1   10.2.0.1      10.2.0.2 (no address set)
#
# Traffic: `cnfwd-bench gen` on g0 (its own process, pinned to GEN_CPU):
# 64-byte IPv4/UDP frames, FLOWS flows to the hosts of 10.3.0.0/16 (the
# networks "behind" the sink), source 10.1.0.2, destination MAC = f0's MAC,
# correct IPv4 and UDP checksums (TX checksum offload is also turned off on
# every veth end that sends, so no receiver sees a partial checksum).
#
# The kernels on these machines have neither 802.1Q nor VRF devices
# (`ip link add ... type vlan` / `type vrf` fail), so this comparison routes
# between two untagged access networks in one VRF: the kernel's main table
# in (a), one cnfwd l3_isolation_domain in (b).
#
# (a) kernel: f0 10.1.0.1/24, f1 10.2.0.1/24, route 10.3.0.0/16 via
#     10.2.0.2, a permanent neighbour entry 10.2.0.2 -> s0's MAC (nothing is
#     resolved), net.ipv4.ip_forward=1 in fwd-$S.
# (b) cnfwd: addresses and route removed and ip_forward=0 in fwd-$S; cnfwd
#     runs in fwd-$S with two af_packet access ports (f0, f1) that keep the
#     MACs the traffic uses, while the kernel's f0/f1 get other MACs (so the
#     kernel's IP stack drops cnfwd's frames on arrival as "other host",
#     as on a NIC whose MAC belongs to the forwarder), one VRF with the two L3 networks, a static neighbour
#     10.2.0.2 -> s0's MAC and a static route 10.3.0.0/16 via 10.2.0.2;
#     one worker pinned to FWD_CPU, busy polling.
#
# CPUs: the generator is pinned to GEN_CPU (default 0). A veth hands a
# packet to the receiving side on the sending CPU's backlog, so without
# care the kernel would forward in the generator's own system calls. RPS on
# f0 moves the receive processing of fwd-$S to FWD_CPU (default 1) in both
# runs: there the kernel forwards in (a), and delivers to cnfwd's ring in
# (b), next to cnfwd's worker. Both forwarders thus get one CPU, the
# generator the other.
#
# Rates: packets counted on s0 (rx_packets in sysfs, read in sink-$S) over
# the generator's run, divided by the generator's own elapsed time.
# Offered rate: what the generator put on g0, i.e. g0's tx_packets (= the
# generator's sent count) plus g0's tx_dropped (frames the veth dropped
# because fwd-$S's input backlog was full). Within a forwarding run this is
# flow-controlled: frames queued towards the forwarder hold the generator
# socket's send buffer, so the kernel pushes back (EAGAIN; the generator
# counts such calls as pushed_back and offers the frames again) and the
# offered rate follows the forwarder. So the generator's own capacity is
# measured first, in run (0): same traffic, fwd-$S without addresses and
# with ip_forward=0 (the frames are dropped as soon as they arrive). If
# that capacity does not exceed a forwarder's rate by 5 %, a warning says
# the generator may limit the result.
#
# PERF=1: also samples FWD_CPU (perf record -e cpu-clock) during each run
# and prints the time per thread and the top symbols (and, for cnfwd, those
# of its worker), to see where the forwarding CPU's time goes. The data is
# kept in $TARGET/bench-kernel-perf-<run>.data for `perf report -i`.
set -euo pipefail

SECS=${1:-10}
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 2 ]] || { echo "usage: $0 [SECONDS>=2]" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "$0: needs root (namespaces, veth, AF_PACKET)" >&2; exit 1; }
FLOWS=${FLOWS:-1024}
SIZE=${SIZE:-64}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
PERF=${PERF:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
S=$$
GEN=cnfwd-gen-$S
FWD=cnfwd-fwd-$S
SINK=cnfwd-sink-$S
TMP=$(mktemp -d /tmp/cnfwd-bench-kernel.XXXXXX)
CHILD=

cleanup() {
    local rc=$?
    if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
        kill -INT "$CHILD" 2>/dev/null || true
        sleep 1
        kill -KILL "$CHILD" 2>/dev/null || true
    fi
    for ns in "$GEN" "$FWD" "$SINK"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building (release): cnfwd, cnfwd-bench" >&2
(cd "$ROOT" && cargo build --quiet --release -p dataplane --bin cnfwd \
    && cargo build --quiet --release -p cnfwd-tools --bin cnfwd-bench)
CNFWD=$TARGET/release/cnfwd
BENCH=$TARGET/release/cnfwd-bench

# ------------------------------------------------------------------ set-up
for ns in "$GEN" "$FWD" "$SINK"; do
    ip netns add "$ns"
    # Before any interface exists: new ones inherit "default".
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
ip -n "$GEN" link add g0 type veth peer name f0 netns "$FWD"
ip -n "$FWD" link add f1 type veth peer name s0 netns "$SINK"
nsx() { ip netns exec "$@"; }
for pair in "$GEN g0" "$FWD f0" "$FWD f1" "$SINK s0"; do
    set -- $pair
    nsx "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    if command -v ethtool >/dev/null; then
        nsx "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
    fi
    ip -n "$1" link set "$2" up
done
mac() { nsx "$1" cat "/sys/class/net/$2/address"; }
G0_MAC=$(mac "$GEN" g0)
F0_MAC=$(mac "$FWD" f0)
F1_MAC=$(mac "$FWD" f1)
S0_MAC=$(mac "$SINK" s0)
# Receive processing of f0 on FWD_CPU (see the header).
printf '%x' $((1 << FWD_CPU)) | nsx "$FWD" tee /sys/class/net/f0/queues/rx-0/rps_cpus >/dev/null

counter() { nsx "$1" cat "/sys/class/net/$2/statistics/$3"; }

# Runs the generator for SECS; sets GEN_SENT, GEN_SECS, G0_TX, G0_DROP,
# OFFERED, SINK_RX, F0_RX.
run_traffic() {
    local s0_before g0_before g0_drop_before f0_before out
    s0_before=$(counter "$SINK" s0 rx_packets)
    g0_before=$(counter "$GEN" g0 tx_packets)
    g0_drop_before=$(counter "$GEN" g0 tx_dropped)
    f0_before=$(counter "$FWD" f0 rx_packets)
    out=$(nsx "$GEN" taskset -c "$GEN_CPU" "$BENCH" gen --interface g0 \
        --src-mac "$G0_MAC" --dst-mac "$F0_MAC" --src-ip 10.1.0.2 \
        --dst-net 10.3.0.0/16 --flows "$FLOWS" --size "$SIZE" --duration "$SECS")
    sleep 0.2 # what is in flight arrives
    echo "   generator: $out" >&2
    GEN_SENT=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out")
    GEN_SECS=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
    G0_TX=$(($(counter "$GEN" g0 tx_packets) - g0_before))
    G0_DROP=$(($(counter "$GEN" g0 tx_dropped) - g0_drop_before))
    OFFERED=$((G0_TX + G0_DROP))
    F0_RX=$(($(counter "$FWD" f0 rx_packets) - f0_before))
    SINK_RX=$(($(counter "$SINK" s0 rx_packets) - s0_before))
}

# With PERF=1, samples FWD_CPU while "$@" runs and prints the top symbols.
profiled() {
    local name=$1 pid
    shift
    if [[ $PERF != 1 ]]; then
        "$@"
        return
    fi
    perf record -q -e cpu-clock -C "$FWD_CPU" -o "$TARGET/bench-kernel-perf-$name.data" -- sleep "$SECS" 2>/dev/null &
    pid=$!
    "$@"
    wait "$pid" || true
    echo "   perf ($name, CPU $FWD_CPU): time by thread, then top symbols" >&2
    local data=$TARGET/bench-kernel-perf-$name.data
    perf report -q -i "$data" --sort comm --percent-limit 2 2>/dev/null | head -8 >&2 || true
    perf report -q -i "$data" --sort comm,sym --percent-limit 1.5 2>/dev/null | head -20 >&2 || true
    if [[ $name == cnfwd ]]; then
        echo "   perf: cnfwd's worker alone" >&2
        perf report -q -i "$data" --comms cnfwd-worker-0 --sort dso 2>/dev/null | head -4 >&2 || true
        perf report -q -i "$data" --comms cnfwd-worker-0 --sort dso,sym --percent-limit 0.3 2>/dev/null \
            | head -25 >&2 || true
    fi
}

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.3f", n / s / 1e6 }'; }

# Warns when the offered rate does not exceed the forwarded one by 5 %.
check_offered() {
    local name=$1 offered=$2 forwarded=$3
    if awk -v o="$offered" -v f="$forwarded" 'BEGIN { exit !(o < 1.05 * f) }'; then
        echo "WARNING: $name: generator capacity $offered Mpps is not above forwarded $forwarded Mpps: the generator may limit this result" >&2
    fi
}

# ---------------------------------------------- (0) generator capacity
echo "== (0) generator alone (fwd-$S drops everything), ${SECS}s" >&2
nsx "$FWD" sysctl -qw net.ipv4.ip_forward=0
profiled generator run_traffic
GEN_CAP=$(rate "$OFFERED" "$GEN_SECS")
echo "   offered $OFFERED (g0 tx $G0_TX, dropped at f0's backlog $G0_DROP), f0 rx $F0_RX" >&2

# ------------------------------------------------------------- (a) kernel
echo "== (a) kernel forwarding (ip_forward=1), ${SECS}s" >&2
ip -n "$FWD" addr add 10.1.0.1/24 dev f0
ip -n "$FWD" addr add 10.2.0.1/24 dev f1
ip -n "$FWD" neigh replace 10.2.0.2 lladdr "$S0_MAC" dev f1 nud permanent
ip -n "$FWD" route add 10.3.0.0/16 via 10.2.0.2 dev f1
nsx "$FWD" sysctl -qw net.ipv4.ip_forward=1
profiled kernel run_traffic
K_OFFERED=$(rate "$OFFERED" "$GEN_SECS")
K_RATE=$(rate "$SINK_RX" "$GEN_SECS")
echo "   sent $GEN_SENT (g0 tx $G0_TX, dropped at f0's backlog $G0_DROP), f0 rx $F0_RX, sink rx $SINK_RX" >&2
check_offered kernel "$GEN_CAP" "$K_RATE"

# -------------------------------------------------------------- (b) cnfwd
echo "== (b) cnfwd on AF_PACKET, one worker on CPU $FWD_CPU, ${SECS}s" >&2
nsx "$FWD" sysctl -qw net.ipv4.ip_forward=0
ip -n "$FWD" route del 10.3.0.0/16
ip -n "$FWD" neigh del 10.2.0.2 dev f1
ip -n "$FWD" addr flush dev f0
ip -n "$FWD" addr flush dev f1
# cnfwd owns the MACs the traffic is addressed to (its ports keep f0's and
# f1's original MACs); the kernel's devices get other ones. Frames for cnfwd
# are then "other host" to the kernel, whose IP stack drops them on arrival
# instead of routing each one to an error (the cost that dominated cnfwd's
# CPU before: ip_route_input_slow, ip_error, dst alloc/free per packet).
# cnfwd receives them anyway: its sockets put the ports in promiscuous mode.
ip -n "$FWD" link set f0 address 02:fe:00:00:00:f0
ip -n "$FWD" link set f1 address 02:fe:00:00:00:f1
cat >"$TMP/cnfwd.toml" <<EOF
# Two untagged access networks routed in one VRF (no 802.1Q/VRF devices
# in these kernels, see scripts/bench-kernel.sh).
[engine]
workers = 1
cores = [$FWD_CPU]

[[l3_isolation_domains]]
name = "bench"
static_routes = [{ prefix = "10.3.0.0/16", next_hop = "10.2.0.2" }]

[[l3_networks]]
name = "gen-net"
vlan = 101
l3_isolation_domain = "bench"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"
ipv4_gateway = "10.1.0.1"

[[l3_networks]]
name = "sink-net"
vlan = 102
l3_isolation_domain = "bench"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"
ipv4_gateway = "10.2.0.1"
neighbors = [{ ip = "10.2.0.2", mac = "$S0_MAC" }]

[[ports]]
name = "gen"
backend = "af_packet"
interface = "f0"
mac = "$F0_MAC"
mode = "access"
networks = ["gen-net"]

[[ports]]
name = "sink"
backend = "af_packet"
interface = "f1"
mac = "$F1_MAC"
mode = "access"
networks = ["sink-net"]
EOF
nsx "$FWD" "$CNFWD" run --config "$TMP/cnfwd.toml" --duration $((SECS + 5)) \
    --stats-interval 0 --stats-json "$TMP/stats.json" --quiet &
CHILD=$!
sleep 1.5 # ports open, worker polling
kill -0 "$CHILD" 2>/dev/null || { echo "cnfwd did not start" >&2; exit 1; }
profiled cnfwd run_traffic
wait "$CHILD"
CHILD=
C_OFFERED=$(rate "$OFFERED" "$GEN_SECS")
C_RATE=$(rate "$SINK_RX" "$GEN_SECS")
C_RX=$(jq '.ports.gen.rx_packets' "$TMP/stats.json")
C_TX=$(jq '.ports.sink.tx_packets' "$TMP/stats.json")
C_DROPS=$(jq -c '.drops' "$TMP/stats.json")
echo "   sent $GEN_SENT (g0 tx $G0_TX, dropped at f0's backlog $G0_DROP), f0 rx $F0_RX, cnfwd rx $C_RX tx $C_TX drops $C_DROPS, sink rx $SINK_RX" >&2
check_offered cnfwd "$GEN_CAP" "$C_RATE"

# ------------------------------------------------------------------ result
RATIO=$(awk -v c="$C_RATE" -v k="$K_RATE" 'BEGIN { if (k > 0) printf "%.2f", c / k; else print "n/a" }')
echo
echo "generator capacity: $GEN_CAP Mpps (offered within the runs: kernel $K_OFFERED, cnfwd $C_OFFERED)"
echo "kernel: $K_RATE Mpps"
echo "cnfwd:  $C_RATE Mpps"
echo "ratio (cnfwd / kernel): ${RATIO}x"
