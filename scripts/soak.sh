#!/usr/bin/env bash
# Soak test: runs cnfwd (AF_PACKET, 2 workers, adaptive idle) on veth pairs
# into network namespaces for a long time while traffic flows, routes
# change at 1,000/s over the management socket, the configuration is
# re-applied every 5 s, socket clients come and go and CSN flows churn;
# then checks RSS stays flat, the counters balance, nothing panicked or
# stalled and cnfwd exits 0 on SIGTERM. The driver is cnfwd-soak
# (tools/src/bin/cnfwd-soak/); this script builds it and cnfwd (debug
# profile, the one `cargo test` builds: opt-level 1, dependencies at 3)
# and runs it.
#
#   scripts/soak.sh [--no-build] [--duration 30m] [--rate PPS] [--report FILE]
#                   [other cnfwd-soak options: target/debug/cnfwd-soak --help]
#
# --no-build uses target/debug/cnfwd and cnfwd-soak as `cargo test
# --workspace` left them (CI runs `scripts/soak.sh --no-build --duration 90s`
# after the tests: a separate `cargo build` would rebuild most crates, since
# the tests' dev-dependencies change the features of serde and others).
# Needs root (network namespaces, AF_PACKET).
# Exit: 0 all checks passed, 1 a check failed, 2 set-up error.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=30m
build=1
given="$*"
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration=${2:?--duration needs a value}; shift 2 ;;
        --duration=*) duration=${1#*=}; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "soak: needs root: it creates network namespaces and veth pairs (CAP_NET_ADMIN) and cnfwd opens AF_PACKET sockets (CAP_NET_RAW). Run: sudo $0 $given" >&2
    exit 2
fi
if ! ip netns list >/dev/null 2>&1; then
    echo "soak: 'ip netns' does not work here (iproute2 missing or no namespace support)" >&2
    exit 2
fi
if ! command -v cargo >/dev/null 2>&1; then
    # shellcheck disable=SC1091
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || { echo "soak: needs a Rust toolchain (rustup)" >&2; exit 2; }

target=${CARGO_TARGET_DIR:-target}
if [ "$build" -eq 1 ]; then
    echo "== soak: building cnfwd and cnfwd-soak (debug profile)"
    cargo build -q -p dataplane --bin cnfwd -p cnfwd-tools --bin cnfwd-soak
fi
for bin in cnfwd cnfwd-soak; do
    [ -x "$target/debug/$bin" ] || { echo "soak: $target/debug/$bin is missing (run without --no-build)" >&2; exit 2; }
done

name="cnfwd-soak-$$"
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    # cnfwd-soak removes its namespaces itself; this catches a kill -9 of it.
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${name}-" || true); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT

echo "== soak: $duration"
status=0
"$target/debug/cnfwd-soak" --duration "$duration" --cnfwd "$target/debug/cnfwd" \
    --name "$name" "${args[@]+"${args[@]}"}" || status=$?
exit "$status"
