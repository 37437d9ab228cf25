#!/usr/bin/env bash
# Installs what building and testing cnfwd needs, only where it is missing.
# Sourced by scripts/test.sh and scripts/demo.sh; safe to run again.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# The Linux hosts of dataplane/tests/linux_hosts.rs and slow_overload.rs.
command -v ping >/dev/null 2>&1 || need_apt+=(iputils-ping)
command -v tracepath >/dev/null 2>&1 || need_apt+=(iputils-tracepath)
# tshark reads the live capture files (tools/tests/capture_live.rs) and checks
# the capture filter (dataplane/tests/capture_filter.rs).
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]} with apt-get"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found. cnfwd needs Rust 1.87 or newer (Debian 12's packaged rustc is too old);" >&2
    echo "       install it with rustup (https://rustup.rs) and run this again." >&2
    exit 1
fi
if command -v rustup >/dev/null 2>&1; then
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
fi

# scapy for the pcap-tests generator and the example traffic, in a private venv.
CNFWD_VENV="${CNFWD_VENV:-$PWD/target/venv}"
if ! "$CNFWD_VENV/bin/python" -c 'import scapy' >/dev/null 2>&1; then
    echo "setup: creating $CNFWD_VENV with scapy"
    python3 -m venv "$CNFWD_VENV"
    "$CNFWD_VENV/bin/pip" install --quiet --disable-pip-version-check -r pcap-tests/gen/requirements.txt
fi
export CNFWD_PYTHON="$CNFWD_VENV/bin/python"
