#!/usr/bin/env bash
# Fuzzes cnfwd with cargo-fuzz / libFuzzer: builds the targets of fuzz/
# (lints them first: the fuzz crate is outside the root workspace), replays
# every saved regression input, then runs each target for SECONDS (default
# 60) from a copy of its committed corpus. Prints executions and exec/s per
# target; exits non-zero if any target crashed, with the artifact's path.
#
#   scripts/fuzz.sh [SECONDS]
#
# Environment: FUZZ_TARGETS (space-separated subset; default all),
# FUZZ_SANITIZER (none|address; default none, see fuzz/README.md),
# FUZZ_RSS_MB (default 2048), FUZZ_TIMEOUT_S (per input, default 10),
# FUZZ_KEEP_CORPUS=1 merges what a run found back into fuzz/corpus (minimised).
# The stable toolchain builds libFuzzer with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seconds=${1:-60}
targets=${FUZZ_TARGETS:-pipeline capture config control dns}
sanitizer=${FUZZ_SANITIZER:-none}
rss_mb=${FUZZ_RSS_MB:-2048}
timeout_s=${FUZZ_TIMEOUT_S:-10}
export RUSTC_BOOTSTRAP=1 CARGO_INCREMENTAL=0
target_dir=${CARGO_TARGET_DIR:-$repo/target}/fuzz

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== fuzz crate: rustfmt and clippy (warnings denied)"
(cd fuzz && cargo fmt -- --check)
(cd fuzz && cargo clippy --all-targets --target-dir "$target_dir" -- -D warnings)

echo "== building fuzz targets (sanitizer: $sanitizer)"
(cd fuzz && cargo fuzz build -O -s "$sanitizer" --target-dir "$target_dir")
bin="$target_dir/x86_64-unknown-linux-gnu/release"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
summary=()
for t in $targets; do
    if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
        echo "== $t: regression inputs"
        if ! "$bin/$t" -rss_limit_mb="$rss_mb" -timeout="$timeout_s" fuzz/regressions/"$t"/* \
            >"$work/$t-regressions.log" 2>&1; then
            tail -n 40 "$work/$t-regressions.log"
            echo "$t: a saved regression input fails again (fuzz/regressions/$t)" >&2
            failed+=("$t (regression)")
        fi
    fi
    echo "== $t: fuzzing for ${seconds}s"
    mkdir -p "$work/$t/corpus" "fuzz/artifacts/$t"
    if [ -d "fuzz/corpus/$t" ]; then
        cp -r "fuzz/corpus/$t/." "$work/$t/corpus/"
    fi
    status=0
    "$bin/$t" "$work/$t/corpus" \
        -max_total_time="$seconds" -print_final_stats=1 \
        -rss_limit_mb="$rss_mb" -timeout="$timeout_s" \
        -artifact_prefix="$repo/fuzz/artifacts/$t/" \
        >"$work/$t.log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -n 1)
    summary+=("$(printf '%-9s %12s execs %8s exec/s' "$t" "${execs:-?}" "${rate:-?}")")
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$work/$t.log"
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/$t.log" | tail -n 1)
        echo "$t: CRASH (status $status); input: ${artifact:-see the log above}" >&2
        echo "reproduce: $bin/$t ${artifact:-<input>}" >&2
        failed+=("$t: ${artifact:-status $status}")
    elif [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
        mkdir -p "$work/$t/min"
        "$bin/$t" -merge=1 "$work/$t/min" "fuzz/corpus/$t" "$work/$t/corpus" \
            -rss_limit_mb="$rss_mb" -timeout="$timeout_s" >/dev/null 2>&1
        rm -rf "fuzz/corpus/$t"
        mv "$work/$t/min" "fuzz/corpus/$t"
    fi
done

echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "FAILED:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
fi
