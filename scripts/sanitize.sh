#!/usr/bin/env bash
# Runs cnfwd's unsafe code under AddressSanitizer + LeakSanitizer (issue 13):
#   - the DPDK backend over vdevs (dataplane --test dpdk, --test dpdk_cli:
#     the latter spawns `cnfwd run` on DPDK ports),
#   - the AF_PACKET backend: its unit tests and every other unit test of the
#     dataplane crate (--lib), and its integration tests (--test afpacket,
#     --test afpacket_offload; they need root and network namespaces and
#     say "skipping" otherwise),
#   - the dpdk-sys bindings' own tests (EAL, LPM through the FFI).
#
#   scripts/sanitize.sh            (from anywhere; does its own set-up)
#
# How: `-Zsanitizer=address` on the stable toolchain (RUSTC_BOOTSTRAP=1), with
# an explicit --target so build scripts and proc macros stay unsanitized. The
# `cnfwd` binaries the tests spawn are built by the same cargo invocation with
# the same flags, so they are sanitized too. The standard library is the
# prebuilt one (not instrumented; no -Zbuild-std, which needs rust-src), and
# DPDK is Debian's (not instrumented): ASan sees every access our Rust code
# makes, LSan sees every malloc in the process (DPDK's included).
#
# Every report of every process (test binaries and spawned cnfwd) is written
# to a file under the log folder (ASAN_OPTIONS log_path), so none is lost in
# captured output; the script prints them and exits 1 if there is any, or if
# a test failed. Leaks that are DPDK's own are suppressed in
# scripts/sanitize/lsan.supp, each entry saying why.
#
# Environment: CNFWD_SANITIZE_TARGET_DIR (default target/sanitize; kept apart
# from the normal target dir because every crate is rebuilt with other
# flags), CNFWD_SANITIZE_LOGS (default: a fresh temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS
. scripts/setup.sh

if ! dpkg -s libdpdk-dev dpdk-dev libclang-dev clang pkg-config >/dev/null 2>&1; then
    echo "setup: installing DPDK build packages with apt-get"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        dpdk dpdk-dev libdpdk-dev libclang-dev clang pkg-config >/dev/null
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "sanitize: not root: the AF_PACKET integration tests will skip (they need CAP_NET_ADMIN, CAP_NET_RAW)"
fi

host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address"
# Only --lib/--tests are built (no doctests), but keep rustdoc consistent.
export RUSTDOCFLAGS="-Zsanitizer=address"
export CARGO_TARGET_DIR="${CNFWD_SANITIZE_TARGET_DIR:-$root/target/sanitize}"
export CARGO_INCREMENTAL=0
logs="${CNFWD_SANITIZE_LOGS:-$(mktemp -d -t cnfwd-sanitize.XXXXXX)}"
mkdir -p "$logs"
rm -f "$logs"/asan.*
# detect_leaks is LSan at exit of every process; halt_on_error (the default
# for ASan) stops at the first memory error; log_path gives one file per
# process (asan.<pid>), also for the cnfwd processes the tests spawn.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:log_path=$logs/asan"
export LSAN_OPTIONS="suppressions=$root/scripts/sanitize/lsan.supp:print_suppressions=1"

echo "== sanitize: ASan + LSan, target $host, target dir $CARGO_TARGET_DIR, reports in $logs"
# Canary: a program with one known leak, same flags. If LSan does not report
# it (no ptrace, wrong runtime, options ignored), stop: silence would mean
# nothing.
mkdir -p "$CARGO_TARGET_DIR"
canary_logs=$(mktemp -d -t cnfwd-sanitize-canary.XXXXXX)
rustc --edition 2021 -g -Zsanitizer=address --target "$host" \
    -o "$CARGO_TARGET_DIR/sanitize-canary" scripts/sanitize/canary.rs
if ASAN_OPTIONS="detect_leaks=1:log_path=$canary_logs/asan" "$CARGO_TARGET_DIR/sanitize-canary" ||
    ! grep -qs 'ERROR: LeakSanitizer' "$canary_logs"/asan.*; then
    echo "sanitize: LeakSanitizer did not report the canary's leak: the set-up is broken" >&2
    exit 1
fi
rm -rf "$canary_logs"
echo "== sanitize: canary leak reported, LSan works"

status=0
run() {
    echo "== sanitize: cargo $*"
    cargo "$@" || status=$?
}
# Measures loss and order at ~30,000 packets/s through two workers; ASan's
# slowdown on a busy machine makes the kernel drop packets, which is not a
# memory error. It runs below on its own: its sanitizer reports count, a
# failed assertion is only a warning.
timing_test=two_workers_forward_many_flows_without_loss_in_order
# One cargo invocation for both crates: built separately, `-p dpdk-sys`
# alone resolves other features and rebuilds dpdk-sys and a few dependencies
# (13 minutes more on a busy 2-core machine, against 24 s this way).
pkgs=(-p dataplane -p dpdk-sys --features dataplane/dpdk --target "$host")
# The dataplane crate with the DPDK backend: every unit test (AF_PACKET ring
# and offload parsing among them), the DPDK vdev tests, the AF_PACKET tests;
# the bindings' own tests (EAL, mempool, ethdev, LPM through the FFI).
run test "${pkgs[@]}" --no-fail-fast \
    --lib --test dpdk --test dpdk_cli --test afpacket --test afpacket_offload \
    --test eal --test lpm -- --skip "$timing_test"
echo "== sanitize: cargo test --test afpacket $timing_test (failure = warning)"
warned=
if ! cargo test "${pkgs[@]}" --test afpacket -- --exact "$timing_test"; then
    warned=" (warning: $timing_test failed, see above)"
    echo "sanitize: warning: $timing_test failed under ASan (loss/order under load, not a sanitizer report)" >&2
fi

reports=$(find "$logs" -maxdepth 1 -name 'asan.*' -type f | sort)
if [ -n "$reports" ]; then
    for f in $reports; do
        # A file holding only the suppressed-leak summary is not a report.
        if grep -q 'ERROR: \(Address\|Leak\)Sanitizer' "$f"; then
            echo "== sanitize: report in $f" >&2
            cat "$f" >&2
            status=1
        fi
    done
fi
took=$((SECONDS - started))
if [ "$status" -eq 0 ]; then
    echo "sanitize: no sanitizer report, every test passed${warned} (${took}s)"
else
    echo "sanitize: FAILED (sanitizer reports above, or a test failed) (${took}s)" >&2
fi
exit "$status"
