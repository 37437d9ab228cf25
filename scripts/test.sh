#!/usr/bin/env bash
# Runs every check and test of cnfwd, doing its own set-up first.
# This is what CI runs (.ci/run); run it from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

echo "== rustfmt"
cargo fmt --all -- --check

echo "== clippy (warnings denied)"
cargo clippy --workspace --all-targets -- -D warnings

echo "== pcap-tests corpus is what the generator writes"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$CNFWD_PYTHON" pcap-tests/gen/gen.py --out "$tmp" >/dev/null
if ! diff -r "$tmp" pcap-tests/cases; then
    echo "pcap-tests/cases differs from pcap-tests/gen/gen.py's output: run '$CNFWD_PYTHON pcap-tests/gen/gen.py' and commit" >&2
    exit 1
fi

echo "== DPDK bindings and backend (vdevs, no hugepages)"
if ! dpkg -s libdpdk-dev dpdk-dev libclang-dev clang pkg-config >/dev/null 2>&1; then
    echo "setup: installing DPDK build packages with apt-get"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        dpdk dpdk-dev libdpdk-dev libclang-dev clang pkg-config >/dev/null
fi
cargo clippy -p dpdk-sys --features bindings --all-targets -- -D warnings
cargo clippy -p dataplane --features dpdk --all-targets -- -D warnings
cargo clippy -p cnfwd-benches --features dpdk --all-targets -- -D warnings
# A failure here is remembered, not fatal at once: the workspace tests still
# run, their counts include these, and the script's status reflects both.
dpdk_status=0
cargo test -p dpdk-sys --features bindings 2>&1 | tee "$tmp/test.log" || dpdk_status=$?
# The DPDK backend over vdevs: a 1,000,000-packet net_ring leak test, every
# pcap-tests case through net_pcap compared with the expected captures, and
# `cnfwd run` on DPDK ports stopping on --duration and SIGINT; faults: a TX
# ring that stays full and a mempool that runs dry (counted, no leak,
# recovery).
cargo test -p dataplane --features dpdk --test dpdk --test dpdk_cli --test dpdk_faults --test observability 2>&1 | tee -a "$tmp/test.log" || dpdk_status=$?
# cnfwd-bench compare --dpdk end to end on net_memif vdevs (root, ~20 s): cnfwd,
# dpdk-testpmd io and l3fwd (built once by scripts/bench-build-l3fwd.sh, ~40 s,
# cached in target/l3fwd) forward; a missing testpmd/l3fwd gets an "install" row.
# Before `cargo test --workspace`, which rebuilds target/debug/cnfwd without DPDK.
cargo clippy -p cnfwd-tools --features dpdk --all-targets -- -D warnings
L3FWD=$(scripts/bench-build-l3fwd.sh) || dpdk_status=$?
cargo build -p dataplane --features dpdk --bin cnfwd
L3FWD=${L3FWD:-} cargo test -p cnfwd-tools --features dpdk --test bench_dpdk 2>&1 | tee -a "$tmp/test.log" || dpdk_status=$?
# ASan + LSan over the DPDK backend (vdevs), the AF_PACKET backend, every
# dataplane unit test and the dpdk-sys tests; any sanitizer report (tests or
# the cnfwd processes they start) fails it.
echo "== sanitizers (AddressSanitizer + LeakSanitizer)"
scripts/sanitize.sh || dpdk_status=$?
# The deployment files, checked offline; then the container image (DPDK
# build) built and run with podman: it says plainly when and why it skips.
echo "== deployment files (deploy/) and the container image"
scripts/validate-deploy.sh || dpdk_status=$?
scripts/container-test.sh --if-supported || dpdk_status=$?

echo "== tests"
# A failure is remembered (set -e would stop here): fuzzing and the soak
# still run, and the script's status reflects everything.
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee -a "$tmp/test.log"
status=${PIPESTATUS[0]}
set -e
[ "$status" -ne 0 ] || status=$dpdk_status
# Fuzzing, short: every target 30 s from its committed corpus, after its
# saved regression inputs; a crash fails (scripts/fuzz.sh SECONDS for more).
echo "== fuzzing (30 s per target)"
scripts/fuzz.sh 30 || { [ "$status" -ne 0 ] || status=1; }
# Soak, short: 90 s of traffic, 1,000 route changes/s, config applies, socket
# clients and CSN flow churn (root; uses the binaries the tests built).
echo "== soak (90 s; scripts/soak.sh runs 30 minutes by default)"
if [ "$(id -u)" -eq 0 ]; then
    scripts/soak.sh --no-build --duration 90s || { [ "$status" -ne 0 ] || status=1; }
else
    echo "soak: skipped: needs root (network namespaces, AF_PACKET)"
fi
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$tmp/test.log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$tmp/test.log" | awk '{s+=$1} END {print s+0}')
echo "== FIB scale (1M IPv4 prefixes, 1,024 VRFs, IPv6 table): memory"
cargo test -q -p dataplane --test fib_scale -- --nocapture --test-threads=1 2>&1 | grep -E "memory|prefixes" || true
echo "tests: $passed passed, $failed failed"
exit "$status"
