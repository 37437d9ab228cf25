#!/usr/bin/env bash
# Checks everything under deploy/ offline, without a cluster or a registry:
#   - hadolint on the Containerfiles;
#   - yamllint on the Kubernetes manifests;
#   - the custom resources (NetworkAttachmentDefinition, ServiceMonitor) and
#     the CNI configurations inside them against the JSON schemas in
#     deploy/kubernetes/schemas/, plus the cross-references between pods,
#     networks, device plugin pools, probes and cnfwd's configurations
#     (deploy/validate/check_manifests.py);
#   - kubernetes-validate --strict on every core object (unknown fields are
#     errors);
#   - `cnfwd check` on every cnfwd.toml in the manifests' ConfigMaps;
#   - shellcheck on the deployment and test scripts;
#   - systemd-analyze verify on the systemd unit, where systemd is present.
# The Python tools go into a private venv (target/deploy-venv), pinned in
# deploy/validate/requirements.txt. Prints one line per check and a final
# "N passed, N failed" line; exits 1 if any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${CNFWD_DEPLOY_VENV:-$PWD/target/deploy-venv}"
REQS=deploy/validate/requirements.txt
passed=0
failed=0
skipped=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

ok() { echo "ok    $*"; passed=$((passed + 1)); }
bad() { echo "FAIL  $*"; failed=$((failed + 1)); }
skip() { echo "skip  $*"; skipped=$((skipped + 1)); }

# Runs a check; its output is shown only when it fails.
check() {
    local name=$1
    shift
    if "$@" >"$out/log" 2>&1; then
        ok "$name"
    else
        bad "$name"
        sed 's/^/      /' "$out/log"
    fi
}

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "validate-deploy: installing ${need_apt[*]} with apt-get"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "validate-deploy: installing the validators into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
    echo "$want" >"$stamp"
fi
PY="$VENV/bin/python"

# -------------------------------------------------------------- container
check "hadolint deploy/container/Containerfile deploy/container/Containerfile.rust-local" \
    "$VENV/bin/hadolint" deploy/container/Containerfile deploy/container/Containerfile.rust-local

# ------------------------------------------------------------- kubernetes
manifests=(deploy/kubernetes/*.yaml)
check "yamllint deploy/kubernetes (${#manifests[@]} files)" \
    "$VENV/bin/yamllint" --strict -c deploy/validate/yamllint.yaml deploy/kubernetes/
if "$PY" deploy/validate/check_manifests.py --schemas deploy/kubernetes/schemas \
    --out "$out/split" "${manifests[@]}" >"$out/log" 2>&1; then
    ok "$(tail -n1 "$out/log")"
else
    bad "custom resources, CNI configurations and cross-references (check_manifests.py)"
    sed 's/^/      /' "$out/log"
fi
if [ -d "$out/split/core" ]; then
    n=$(grep -c '^kind:' "$out"/split/core/*.yaml | awk -F: '{s += $2} END {print s}')
    check "kubernetes-validate --strict: $n core objects" \
        "$VENV/bin/kubernetes-validate" --strict --quiet "$out"/split/core/*.yaml
fi

# cnfwd's own validation of the configurations in the ConfigMaps; one naming
# network attachments is resolved against the network-status file the pod
# would have.
cnfwd=${CNFWD_BIN:-}
if [ -z "$cnfwd" ] && command -v cargo >/dev/null 2>&1; then
    if cargo build -q -p dataplane --bin cnfwd 2>"$out/build.log"; then
        cnfwd="$(cargo metadata --format-version 1 --no-deps |
            "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/cnfwd"
    else
        bad "cargo build -p dataplane --bin cnfwd (for cnfwd check)"
        sed 's/^/      /' "$out/build.log"
    fi
fi
if [ -z "$cnfwd" ]; then
    skip "cnfwd check: no cnfwd binary (set CNFWD_BIN or install cargo)"
else
    for cfg in "$out"/split/cnfwd/*.toml; do
        [ -e "$cfg" ] || continue
        name=$(basename "$cfg" .toml)
        # A pod naming attachments: resolved against the annotations file
        # Multus would give it (check_manifests.py writes it).
        pod=()
        [ -e "${cfg%.toml}.annotations" ] && pod=(--pod-annotations "${cfg%.toml}.annotations")
        if "$cnfwd" check --config "$cfg" "${pod[@]}" >"$out/log" 2>&1; then
            ok "cnfwd check: ConfigMap $name${pod:+ (attachments resolved from a network-status file)}: $(head -1 "$out/log" | sed 's/^.*: valid: //')"
            sed -n '2,$p' "$out/log"
        else
            bad "cnfwd check: ConfigMap $name"
            sed 's/^/      /' "$out/log"
        fi
    done
fi

# ---------------------------------------------------------------- scripts
check "shellcheck scripts/container-test.sh scripts/validate-deploy.sh deploy/container/build.sh" \
    shellcheck -x scripts/container-test.sh scripts/validate-deploy.sh deploy/container/build.sh

# ---------------------------------------------------------------- systemd
# systemd-analyze verify wants ExecStart's binaries to exist and reports
# problems (unknown settings, bad values) as warnings with status 0: a copy
# of the unit runs stand-in executables from a scratch directory, and any
# output at all fails the check.
if command -v systemd-analyze >/dev/null 2>&1; then
    unit=deploy/systemd/cnfwd.service
    mkdir -p "$out/unit/bin"
    for exe in cnfwd cnfwdctl; do
        printf '#!/bin/sh\n' >"$out/unit/bin/$exe"
        chmod +x "$out/unit/bin/$exe"
    done
    sed "s#/usr/local/bin/#$out/unit/bin/#g" "$unit" >"$out/unit/cnfwd.service"
    if systemd-analyze verify "$out/unit/cnfwd.service" >"$out/log" 2>&1 && ! [ -s "$out/log" ]; then
        ok "systemd-analyze verify $unit"
    else
        bad "systemd-analyze verify $unit"
        sed 's/^/      /' "$out/log"
    fi
else
    skip "systemd-analyze verify: no systemd-analyze on this machine"
fi

echo "validate-deploy: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
