#!/usr/bin/env bash
# Builds DPDK's `l3fwd` example (LPM/EM L3 forwarder) against the system
# libdpdk, for the benchmarks (scripts/bench-l3fwd.sh, `cnfwd-bench compare
# --dpdk`), and prints the binary's path on stdout.
#
#   scripts/bench-build-l3fwd.sh [OUT_DIR]    (default ${CARGO_TARGET_DIR:-target}/l3fwd)
#
# Sources: /usr/share/dpdk/examples/l3fwd (+ ../common) from dpdk-doc,
# installed with apt-get if missing; built with the example's own
# pkg-config Makefile into OUT_DIR/l3fwd, once: OUT_DIR/BUILD-ID records the
# DPDK version and the patches, and a build with the same ID is reused.
# Two patches (sed on the copied source, checked to have applied):
# - l3fwd_lpm.c: IPv4 LPM max_rules 1024 -> 1<<20 and number_tbl8s 1<<8 ->
#   1<<16; the example's table holds 1024 routes, far too few for a full
#   Internet table (scripts/bench-l3fwd.sh loads 901,899).
# - main.c: rxmode.offloads RTE_ETH_RX_OFFLOAD_CHECKSUM -> 0; vdevs
#   (net_pcap, net_memif) have no Rx offloads, so rte_eth_dev_configure
#   fails otherwise (l3fwd never checks IPv4 checksums in software either way).
# Needs: pkg-config, libdpdk-dev, make, a C compiler (Debian: apt-get install
# dpdk-doc libdpdk-dev pkg-config build-essential).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
L3DIR=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/l3fwd}
L3FWD=$L3DIR/l3fwd
command -v pkg-config >/dev/null && pkg-config --exists libdpdk \
    || { echo "libdpdk not found by pkg-config (Debian: apt-get install libdpdk-dev pkg-config)" >&2; exit 1; }
BUILD_ID="dpdk $(pkg-config --modversion libdpdk); lpm 1<<20 rules, 1<<16 tbl8s; rx offloads 0"
if [[ -x $L3FWD && "$(cat "$L3DIR/BUILD-ID" 2>/dev/null)" == "$BUILD_ID" ]]; then
    echo "$L3FWD"
    exit 0
fi
EX=/usr/share/dpdk/examples
if [[ ! -d $EX/l3fwd ]]; then
    echo "== apt-get install dpdk-doc (l3fwd's sources)" >&2
    apt-get install -y -q dpdk-doc >&2 || { apt-get update -q >&2 && apt-get install -y -q dpdk-doc >&2; } \
        || { echo "$EX/l3fwd missing and dpdk-doc could not be installed" >&2; exit 1; }
fi
echo "== building l3fwd from $EX/l3fwd into $L3DIR" >&2
rm -rf "$L3DIR/src" && mkdir -p "$L3DIR/src"
cp -a "$EX/l3fwd" "$EX/common" "$L3DIR/src/"   # l3fwd includes ../common
SRC=$L3DIR/src/l3fwd
# Patch 1: room for a real table (see header).
sed -i -e 's/^#define IPV4_L3FWD_LPM_MAX_RULES .*/#define IPV4_L3FWD_LPM_MAX_RULES (1 << 20)/' \
    -e 's/^#define IPV4_L3FWD_LPM_NUMBER_TBL8S .*/#define IPV4_L3FWD_LPM_NUMBER_TBL8S (1 << 16)/' \
    "$SRC/l3fwd_lpm.c"
# Patch 2: no Rx checksum offload request (vdevs offer none).
sed -i 's|^\(\s*\.offloads = \)RTE_ETH_RX_OFFLOAD_CHECKSUM,|\10, /* cnfwd bench: vdevs have no Rx offloads */|' \
    "$SRC/main.c"
grep -q '^#define IPV4_L3FWD_LPM_MAX_RULES (1 << 20)$' "$SRC/l3fwd_lpm.c" \
    && grep -q '^#define IPV4_L3FWD_LPM_NUMBER_TBL8S (1 << 16)$' "$SRC/l3fwd_lpm.c" \
    && grep -q 'offloads = 0, /\* cnfwd bench' "$SRC/main.c" \
    || { echo "patching l3fwd failed (the example's source changed?)" >&2; exit 1; }
make -s -C "$SRC" >&2
cp "$SRC/build/l3fwd-shared" "$L3FWD"
echo "$BUILD_ID" > "$L3DIR/BUILD-ID"
echo "$L3FWD"
