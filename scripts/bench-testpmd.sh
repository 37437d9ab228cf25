#!/usr/bin/env bash
# Throughput of cnfwd's full L3 path against dpdk-testpmd, same machine, same
# run, one forwarding core each, on the single DPDK vdev port
#   net_pcap0,rx_pcap=<traffic>,infinite_rx=1   (TX is dropped by the vdev)
# (issue 3, item 5).
#
#   scripts/bench-testpmd.sh [SECONDS]      (default 10)
#
# (a) dpdk-testpmd --port-topology=loop --forward-mode=macswap, then =io for
#     reference: forwards on lcore 1 of "-l 0-1"; its per-period Rx-pps/Tx-pps
#     lines are averaged over the samples taken after the first 2 seconds.
# (b) cnfwd run with the full L3 path (trunk in VLAN 100 -> VLAN classify ->
#     VRF LPM over all of testdata/routes/ipv4-bgp.txt.xz -> rewrite ->
#     VLAN 200 -> same trunk out); one worker on EAL's main lcore (lcore 0).
#     Its "--stats-interval 1" rate lines are averaged ("tx ... pkt/s") after
#     the first 2 lines with tx > 0. --duration counts from the start of
#     forwarding (after the routes are loaded), so both forward SECONDS.
# Traffic: 4096 64-byte VLAN-100 UDP frames to cnfwd's ingress MAC, random
# destinations across the real table (benches/examples/make_bench_traffic.rs);
# config: benches/examples/make_bench_config.rs.
set -euo pipefail

SECS=${1:-10}
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 4 ]] || { echo "usage: $0 [SECONDS>=4]" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TESTPMD=${TESTPMD:-$(command -v dpdk-testpmd || true)}
[[ -n $TESTPMD ]] || { echo "dpdk-testpmd not found (Debian: apt-get install dpdk)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/cnfwd-bench.XXXXXX)
TP_PREFIX=bench-tp-$$
CN_PREFIX=cnfwd-bench-$$
CHILD=

cleanup() {
    local rc=$?
    if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
        kill -INT "$CHILD" 2>/dev/null || true
        sleep 2
        kill -KILL "$CHILD" 2>/dev/null || true
    fi
    rm -rf "$TMP" "/var/run/dpdk/$TP_PREFIX" "/var/run/dpdk/$CN_PREFIX" \
        "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$TP_PREFIX" \
        "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$CN_PREFIX"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building (release): cnfwd --features dpdk, make_bench_traffic, make_bench_config" >&2
(cd "$ROOT" && cargo build --quiet --release --features dpdk -p dataplane --bin cnfwd \
    && cargo build --quiet --release -p cnfwd-benches \
        --example make_bench_traffic --example make_bench_config)

"$TARGET/release/examples/make_bench_traffic" "$TMP/traffic.pcap" 4096 1
"$TARGET/release/examples/make_bench_config" "$TMP/cnfwd.toml" "$TMP/traffic.pcap" "$CN_PREFIX"

# Stops $CHILD with SIGINT (SIGKILL if it does not exit within 15 s).
stop_child() {
    kill -INT "$CHILD" 2>/dev/null || true
    for _ in $(seq 150); do
        kill -0 "$CHILD" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
    CHILD=
}

# testpmd MODE -> writes "rx_mpps tx_mpps samples" to $TMP/testpmd-MODE.res
# (runs in this shell, not a subshell, so the EXIT trap knows $CHILD).
testpmd() {
    local mode=$1 log=$TMP/testpmd-$1.log
    # Each output line gets a timestamp (seconds since the epoch) so the
    # first 2 seconds can be left out whatever the real stats period is.
    stdbuf -oL "$TESTPMD" -l 0-1 --no-huge -m 512 --no-pci --no-shconf \
        --file-prefix "$TP_PREFIX" \
        --vdev="net_pcap0,rx_pcap=$TMP/traffic.pcap,infinite_rx=1" -- \
        --port-topology=loop --forward-mode="$mode" --auto-start \
        --total-num-mbufs=16384 --stats-period 1 </dev/null \
        > >(while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done > "$log") 2>&1 &
    CHILD=$!
    sleep "$SECS"
    kill -0 "$CHILD" 2>/dev/null || { echo "testpmd ($mode) exited early; log:" >&2; cat "$log" >&2; exit 1; }
    stop_child
    sleep 0.5 # let the timestamping reader drain
    rm -rf "/var/run/dpdk/$TP_PREFIX"
    awk '
        /Rx-pps:/ { if (t0 == "") t0 = $1; if ($1 - t0 > 2.5) { rx += $3; n++ } }
        /Tx-pps:/ { if ($1 - t0 > 2.5) tx += $3 }
        END { if (n == 0) { print "NaN NaN 0"; exit }
              printf "%.2f %.2f %d\n", rx / n / 1e6, tx / n / 1e6, n }' "$log" > "$TMP/testpmd-$mode.res"
}

echo "== dpdk-testpmd macswap, ${SECS} s" >&2
testpmd macswap
read -r MS_RX MS_TX MS_N < "$TMP/testpmd-macswap.res"
echo "== dpdk-testpmd io, ${SECS} s" >&2
testpmd io
read -r IO_RX IO_TX IO_N < "$TMP/testpmd-io.res"

NROUTES=$(grep -c 'next_hop' "$TMP/cnfwd.toml")
echo "== cnfwd run (full L3 path, $NROUTES routes), ${SECS} s of forwarding" >&2
CN_LOG=$TMP/cnfwd.log
T0=$EPOCHREALTIME
"$TARGET/release/cnfwd" run --config "$TMP/cnfwd.toml" --duration "$SECS" --stats-interval 1 \
    > >(while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done > "$CN_LOG") 2>&1 &
CHILD=$!
if ! wait "$CHILD"; then
    CHILD=
    sleep 0.5
    echo "cnfwd run failed; log:" >&2; cat "$CN_LOG" >&2; exit 1
fi
CHILD=
sleep 0.5
rm -rf "/var/run/dpdk/$CN_PREFIX"
# Lines: "<ts> cnfwd: <t> s  rx <n> pkt/s  tx <n> pkt/s  drop <n> pkt/s ..."
read -r CN_TX CN_RX CN_DROP CN_N CN_LOAD < <(awk -v t0="$T0" '
    $2 == "cnfwd:" && $4 == "s" && $5 == "rx" && $8 == "tx" && $7 == "pkt/s" {
        if ($9 > 0) {
            if (first == "") first = $1 - $3   # forwarding (run_live) started
            k++
            if (k > 2) { tx += $9; rx += $6; drop += $12; n++ }
        }
    }
    END { load = (first == "") ? -1 : first - t0
          if (n == 0) { printf "NaN NaN NaN 0 %.1f\n", load; exit }
          printf "%.2f %.2f %.2f %d %.1f\n", tx / n / 1e6, rx / n / 1e6, drop / n / 1e6, n, load }' "$CN_LOG")

ratio=$(awk -v a="$CN_TX" -v b="$MS_TX" 'BEGIN { if (b + 0 > 0 && a == a + 0) printf "%.2f", a / b; else print "n/a" }')

echo
echo "cnfwd vs dpdk-testpmd: one forwarding core each, 64 B frames, net_pcap0 infinite_rx, ${SECS} s"
printf '%-34s %10s %10s %8s\n' "" "rx Mpps" "tx Mpps" "samples"
printf '%-34s %10s %10s %8s\n' "testpmd io" "$IO_RX" "$IO_TX" "$IO_N"
printf '%-34s %10s %10s %8s\n' "testpmd macswap" "$MS_RX" "$MS_TX" "$MS_N"
printf '%-34s %10s %10s %8s\n' "cnfwd full L3 ($NROUTES v4 routes)" "$CN_RX" "$CN_TX" "$CN_N"
echo "cnfwd drop: $CN_DROP Mpps; start-up (EAL + config + FIB load) before forwarding: ${CN_LOAD} s"
echo "ratio cnfwd / testpmd macswap (tx): $ratio   (target >= 0.9)"
