#!/usr/bin/env bash
# Builds cnfwd's container image (deploy/container/build.sh) and tests it:
#
#   (a) corpus: every pcap-tests case replayed inside the container with
#       `cnfwd run` (pcap ports); each output capture compared with the
#       expected one by cnfwd-pcapdiff, the counters with expected-stats.json;
#   (b) AF_PACKET: the container joins a "pod" network namespace
#       (podman --network ns:/run/netns/...) that has a veth pair to each of
#       two "host" namespaces, A (10.1.0.10/24) and B (10.2.0.20/24), runs
#       the image's default command (cnfwd run --config
#       /etc/cnfwd/cnfwd.toml) with only CAP_NET_RAW on a read-only root,
#       and routes UDP between A and B, sent and received by the namespaces'
#       own IP stacks (every datagram must arrive, in order, TTL minus one);
#       then cnfwdctl inside the container, /metrics, /healthz and /readyz,
#       and `podman stop` (SIGTERM to cnfwd as PID 1): cnfwd must exit 0,
#       quickly, with its counters printed;
#   (c) DPDK: one case through net_pcap vdevs (EAL without hugepages), so
#       the image's DPDK libraries and drivers are known to load and work.
#
#   scripts/container-test.sh                  build and test (root)
#   scripts/container-test.sh --if-supported   the same, but exit 0 with a
#                                              "skipped: why" line where
#                                              containers cannot run here
# Environment: CNFWD_IMAGE (default localhost/cnfwd:test), CNFWD_SKIP_BUILD=1
# (use the image as it is), CNFWD_PODMAN_RUNTIME (default runc when
# installed), CNFWD_PCAPDIFF (a cnfwd-pcapdiff binary; default: built with
# cargo). Traffic stays inside the namespaces this script makes; everything
# it makes (namespaces, containers, files) is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${CNFWD_IMAGE:-localhost/cnfwd:test}
S=$$
if_supported=0
[ "${1:-}" = --if-supported ] && if_supported=1

say() { echo "container-test: $*"; }
skip_or_fail() {
    if [ "$if_supported" = 1 ]; then
        say "skipped: $*"
        exit 0
    fi
    say "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- set-up
[ "$(id -u)" -eq 0 ] || skip_or_fail "needs root (network namespaces, podman as root)"
need_apt=()
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v ethtool >/dev/null 2>&1 || need_apt+=(ethtool)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing ${need_apt[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null ||
        skip_or_fail "could not install ${need_apt[*]}"
fi

# crun (podman's default on Debian) fails on hosts with hybrid cgroups;
# runc works there and everywhere else. cgroupfs: no systemd needed.
runtime=${CNFWD_PODMAN_RUNTIME:-}
[ -z "$runtime" ] && command -v runc >/dev/null 2>&1 && runtime=runc
PODMAN=(podman --cgroup-manager=cgroupfs)
[ -n "$runtime" ] && PODMAN+=(--runtime "$runtime")
# Lowered limits: raising them needs CAP_SYS_RESOURCE, which sandboxes
# running this may lack; cnfwd needs far fewer than 1024 descriptors here.
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

tmp=$(mktemp -d /var/tmp/cnfwd-ct.XXXXXX)
NS_POD=cnfwd-ct-$S-pod
NS_A=cnfwd-ct-$S-a
NS_B=cnfwd-ct-$S-b
CT_AFP=cnfwd-ct-$S-afp
PROBE_IMAGE=localhost/cnfwd-ct-probe:$S
cleanup() {
    "${PODMAN[@]}" rm -f -t 0 "$CT_AFP" >/dev/null 2>&1 || true
    podman rmi -f "$PROBE_IMAGE" >/dev/null 2>&1 || true
    for ns in "$NS_POD" "$NS_A" "$NS_B"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Can containers run here at all? A one-file image (the static ldconfig)
# started the way the tests start theirs answers in a second.
probe_containers() {
    local ldconfig root
    ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
    [ -x "$ldconfig" ] && ldd "$ldconfig" 2>&1 | grep -q 'statically linked' || return 0 # cannot probe: assume yes
    root="$tmp/probe-root"
    mkdir -p "$root"
    cp "$ldconfig" "$root/probe"
    tar -C "$root" -c . | podman import -q - "$PROBE_IMAGE" >/dev/null 2>"$tmp/probe.log" || return 1
    "${PODMAN[@]}" run --rm --network none "${LIMITS[@]}" "$PROBE_IMAGE" /probe --version \
        >/dev/null 2>>"$tmp/probe.log"
}
if ! podman info >/dev/null 2>"$tmp/probe.log" || ! probe_containers; then
    skip_or_fail "podman cannot run containers on this machine: $(tail -n1 "$tmp/probe.log")"
fi
if ! ip netns add "cnfwd-ct-$S-probe" 2>"$tmp/probe.log"; then
    skip_or_fail "cannot make network namespaces: $(tail -n1 "$tmp/probe.log")"
fi
ip netns del "cnfwd-ct-$S-probe"

passed=0
failed=0
ok() { echo "ok    $*"; passed=$((passed + 1)); }
bad() { echo "FAIL  $*"; failed=$((failed + 1)); }
indent() { sed 's/^/      /'; }

# ------------------------------------------------------------ the image
if [ "${CNFWD_SKIP_BUILD:-0}" = 1 ] && podman image exists "$IMAGE"; then
    say "using $IMAGE as it is (CNFWD_SKIP_BUILD=1)"
else
    say "building $IMAGE (deploy/container/build.sh)"
    if ! deploy/container/build.sh "$IMAGE" >"$tmp/build.log" 2>&1; then
        tail -40 "$tmp/build.log" >&2
        say "the image did not build: 0 passed, 1 failed"
        exit 1
    fi
    grep '^build-image:' "$tmp/build.log" | sed 's/^/  /'
fi
run() { "${PODMAN[@]}" run --rm "${LIMITS[@]}" "$@"; }

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
entry=$(podman image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}} stop={{.Config.StopSignal}}' "$IMAGE")
say "image $IMAGE: $((size / 1000000)) MB, $entry"
# shellcheck disable=SC2016 # ${Package} is dpkg-query's, not the shell's
pkgs=$(run --network none --entrypoint /usr/bin/dpkg-query "$IMAGE" -W -f '${Package}\n')
dev=$(grep -E -- '-dev$|^rustc|^cargo|^clang|^gcc(-[0-9]+)?$|^cpp|^binutils' <<<"$pkgs" || true)
rte=$(grep -c '^librte-' <<<"$pkgs" || true)
if [ -z "$dev" ] && [ "$(run --network none --entrypoint /bin/sh "$IMAGE" -c 'ls /usr/local/bin')" = "$(printf 'cnfwd\ncnfwdctl')" ]; then
    ok "runtime image: /usr/local/bin holds cnfwd and cnfwdctl only; $rte DPDK runtime packages (librte-*), no -dev packages, no compiler"
else
    bad "runtime image holds build packages or other binaries: ${dev//$'\n'/ }"
fi

# A cnfwd-pcapdiff to compare captures with (the host's build).
pcapdiff=${CNFWD_PCAPDIFF:-}
if [ -z "$pcapdiff" ]; then
    cargo build -q -p cnfwd-tools --bin cnfwd-pcapdiff
    pcapdiff="$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/cnfwd-pcapdiff"
fi
empty_pcap() { printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00' >"$1"; }

# Compares a case's outputs in DIR with the expected captures and counters
# in CASE; prints problems, returns 1 if any.
compare_case() {
    local case=$1 dir=$2 problems=0 f port want got ports
    # Every port with an expected or an actual output.
    ports=$(for f in "$case"/expected-*.pcap "$dir"/out-*.pcap; do
        [ -e "$f" ] || continue
        f=${f##*/}
        f=${f#expected-}
        f=${f#out-}
        echo "${f%.pcap}"
    done | sort -u)
    for port in $ports; do
        want=$case/expected-$port.pcap
        got=$dir/out-$port.pcap
        [ -e "$want" ] || { want=$tmp/empty.pcap; empty_pcap "$want"; }
        [ -e "$got" ] || { got=$tmp/empty.pcap; empty_pcap "$got"; }
        if ! "$pcapdiff" "$want" "$got" >"$tmp/diff.log" 2>&1; then
            echo "port $port:"
            head -5 "$tmp/diff.log"
            problems=1
        fi
    done
    if [ -e "$dir/stats.json" ]; then
        python3 - "$case/expected-stats.json" "$dir/stats.json" <<'EOF' || problems=1
import json, os, sys
want_path, got_path = sys.argv[1], sys.argv[2]
got = json.load(open(got_path))
bad = []
def subset(w, g, path):
    if isinstance(w, dict):
        if not isinstance(g, dict):
            bad.append(f"{path}: expected an object, got {g!r}")
            return
        for k, v in w.items():
            subset(v, g.get(k, 0 if not isinstance(v, dict) else {}), f"{path}.{k}")
    elif w != g:
        bad.append(f"{path}: expected {w!r}, got {g!r}")
if os.path.exists(want_path):
    subset(json.load(open(want_path)), got, "stats")
t = got["totals"]
# Frames cnfwd originates (ICMP errors, ARP/NS, announcements) are
# "generated", the extra pieces of fragmented packets fragments - fragmented:
# rx + replicated + generated + fragments - fragmented = tx + dropped.
added = t["replicated"] + t.get("generated", 0) + t.get("fragments", 0) - t.get("fragmented", 0)
if t["rx_packets"] + added != t["tx_packets"] + t["dropped"]:
    bad.append(f"totals do not add up: {t}")
for b in bad[:5]:
    print(b)
sys.exit(1 if bad else 0)
EOF
    else
        echo "no stats.json written"
        problems=1
    fi
    return $problems
}

# -------------------------------------------------------- (a) the corpus
say "(a) the pcap-tests corpus, replayed by cnfwd inside the container"
mkdir -p "$tmp/corpus"
cp -r pcap-tests/cases/. "$tmp/corpus/"
# One container runs every case; --network none, read-only root.
# shellcheck disable=SC2016 # the script is the container's shell's
run --network none --read-only -v "$tmp/corpus:/cases" --entrypoint /bin/sh "$IMAGE" -c '
    for c in /cases/*/; do
        cnfwd run --quiet --config "$c/config.toml" --stats-json "$c/stats.json" >"$c/run.log" 2>&1
        echo $? >"$c/rc"
    done' || true
ncases=0
nfailed=0
for case in pcap-tests/cases/*/; do
    case=${case%/}
    name=$(basename "$case")
    [ -e "$case/config.toml" ] || continue
    ncases=$((ncases + 1))
    dir=$tmp/corpus/$name
    rc=$(cat "$dir/rc" 2>/dev/null || echo "not run")
    if [ "$rc" != 0 ]; then
        bad "corpus $name: cnfwd run exited $rc"
        indent <"$dir/run.log"
        nfailed=$((nfailed + 1))
    elif ! compare_case "$case" "$dir" >"$tmp/cmp.log" 2>&1; then
        bad "corpus $name: output differs"
        indent <"$tmp/cmp.log"
        nfailed=$((nfailed + 1))
    fi
done
if [ "$nfailed" -eq 0 ] && [ "$ncases" -gt 0 ]; then
    ok "corpus: $ncases cases replayed in the container, every output capture and counter as expected"
else
    [ "$ncases" -gt 0 ] || bad "corpus: no cases found"
    say "corpus: $nfailed of $ncases cases failed"
fi

# ------------------------------------------------------ (b) AF_PACKET
say "(b) AF_PACKET: A $NS_A --veth-- [$NS_POD: cnfwd container] --veth-- B $NS_B"
MAC_A=02:aa:00:00:01:10   # host A's a0
MAC_B=02:aa:00:00:02:20   # host B's b0
MAC_FA=02:00:00:00:01:01  # cnfwd's port app (fa)
MAC_FB=02:00:00:00:02:01  # cnfwd's port db (fb)
for ns in "$NS_POD" "$NS_A" "$NS_B"; do
    ip netns add "$ns"
    # Only the test's own frames: no IPv6 (router solicitations, DAD).
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
done
ip link add fa netns "$NS_POD" address "$MAC_FA" type veth peer name a0 netns "$NS_A" address "$MAC_A"
ip link add fb netns "$NS_POD" address "$MAC_FB" type veth peer name b0 netns "$NS_B" address "$MAC_B"
ip -n "$NS_POD" link set fa up
ip -n "$NS_POD" link set fb up
ip -n "$NS_A" link set a0 up
ip -n "$NS_B" link set b0 up
# The hosts' stacks leave UDP checksums to TX offload on veth, and
# AF_PACKET hands cnfwd such frames with the checksum not filled in; cnfwd
# forwards frames as they are (dataplane/src/io/afpacket/mod.rs), so the
# senders compute their checksums themselves.
ip netns exec "$NS_A" ethtool -K a0 tx off >/dev/null
ip netns exec "$NS_B" ethtool -K b0 tx off >/dev/null
ip -n "$NS_A" addr add 10.1.0.10/24 dev a0
ip -n "$NS_B" addr add 10.2.0.20/24 dev b0
# cnfwd is each host's gateway; it answers no ARP yet, so static entries.
ip -n "$NS_A" route add 10.2.0.0/24 via 10.1.0.1
ip -n "$NS_A" neigh add 10.1.0.1 lladdr "$MAC_FA" dev a0 nud permanent
ip -n "$NS_B" route add 10.1.0.0/24 via 10.2.0.1
ip -n "$NS_B" neigh add 10.2.0.1 lladdr "$MAC_FB" dev b0 nud permanent

mkdir -p "$tmp/etc"
cat >"$tmp/etc/cnfwd.toml" <<EOF
# Written by scripts/container-test.sh: two access ports, one VRF.
[engine]
workers = 1
idle = "adaptive"

[metrics]
listen = "127.0.0.1:9464"

[[l3_isolation_domains]]
name = "vrf1"

[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "vrf1"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"
neighbors = [{ ip = "10.1.0.10", mac = "$MAC_A" }]

[[l3_networks]]
name = "db"
vlan = 200
l3_isolation_domain = "vrf1"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"
neighbors = [{ ip = "10.2.0.20", mac = "$MAC_B" }]

[[ports]]
name = "app"
backend = "af_packet"
interface = "fa"
mode = "access"
networks = ["app"]

[[ports]]
name = "db"
backend = "af_packet"
interface = "fb"
mode = "access"
networks = ["db"]
EOF

# UDP over the namespaces' own stacks. recv: counts datagrams, checks their
# order and TTL (IP_RECVTTL), writes a line of results; with --ready FILE it
# stops at the first datagram after creating FILE. send: COUNT datagrams
# numbered 0..COUNT-1; with --until FILE it repeats one probe until FILE
# exists (or the timeout).
cat >"$tmp/udp.py" <<'EOF'
import os, socket, struct, sys, time
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
opts = dict(zip(sys.argv[4::2], sys.argv[5::2]))
timeout = float(opts.get("--timeout", "20"))
if mode == "recv":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # IP_RECVTTL is 12 on Linux; older Pythons do not name it.
    s.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_RECVTTL", 12), 1)
    s.bind((addr, port))
    s.settimeout(timeout)
    count = int(opts.get("--count", "1"))
    seqs, ttls, sources = [], set(), set()
    try:
        while len(seqs) < count:
            data, anc, _, src = s.recvmsg(2048, socket.CMSG_SPACE(4))
            for level, kind, value in anc:
                if level == socket.IPPROTO_IP and kind == socket.IP_TTL:
                    ttls.add(struct.unpack("i", value)[0])
            sources.add(src[0])
            seqs.append(int(data.split(b" ")[0]))
            if "--ready" in opts:
                open(opts["--ready"], "w").close()
                break
    except socket.timeout:
        pass
    in_order = seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    print(f"received={len(seqs)} in_order={in_order} ttl={sorted(ttls)} from={sorted(sources)}")
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end = time.monotonic() + timeout
    if "--until" in opts:
        n = 0
        while not os.path.exists(opts["--until"]) and time.monotonic() < end:
            s.sendto(b"%d probe" % n, (addr, port))
            n += 1
            time.sleep(0.05)
        print(f"probes={n} answered={os.path.exists(opts['--until'])}")
    else:
        count = int(opts.get("--count", "1"))
        for i in range(count):
            s.sendto(b"%d %s" % (i, b"x" * 64), (addr, port))
            time.sleep(float(opts.get("--interval", "0.001")))
        print(f"sent={count}")
EOF
udp() { local ns=$1; shift; ip netns exec "$ns" python3 "$tmp/udp.py" "$@"; }

afp_started=$(date +%s.%N)
# The image's own command and config path; only CAP_NET_RAW; read-only root.
if ! "${PODMAN[@]}" run -d --name "$CT_AFP" "${LIMITS[@]}" --network "ns:/run/netns/$NS_POD" \
    --read-only --cap-drop ALL --cap-add NET_RAW -v "$tmp/etc:/etc/cnfwd:ro" "$IMAGE" >/dev/null 2>"$tmp/run.log"; then
    bad "AF_PACKET: the container did not start"
    indent <"$tmp/run.log"
fi

# Wait until cnfwd forwards: probes from A until B has seen one.
udp "$NS_B" recv 10.2.0.20 4999 --ready "$tmp/ready" --timeout 30 >"$tmp/probe-recv.log" &
probe_rx=$!
probe=$(udp "$NS_A" send 10.2.0.20 4999 --until "$tmp/ready" --timeout 30)
wait "$probe_rx" || true
if [ -e "$tmp/ready" ]; then
    ok "AF_PACKET: cnfwd forwarding $(python3 -c "import time; print(f'{time.time() - $afp_started:.1f}')") s after podman run ($probe)"
    for dir in "A B 10.1.0.10 10.2.0.20 5000 300" "B A 10.2.0.20 10.1.0.10 5001 200"; do
        read -r from to src dst port count <<<"$dir"
        from_ns=$NS_A; to_ns=$NS_B
        [ "$from" = B ] && { from_ns=$NS_B; to_ns=$NS_A; }
        udp "$to_ns" recv "$dst" "$port" --count "$count" --timeout 15 >"$tmp/recv.log" &
        rx=$!
        sleep 0.3
        udp "$from_ns" send "$dst" "$port" --count "$count" >/dev/null
        wait "$rx" || true
        result=$(cat "$tmp/recv.log")
        if [ "$result" = "received=$count in_order=True ttl=[63] from=['$src']" ]; then
            ok "AF_PACKET: $count UDP datagrams $from -> $to routed by cnfwd: all arrived, in order, TTL 64 -> 63"
        else
            bad "AF_PACKET: $from -> $to: sent $count, $result (want all, in order, ttl=[63] from $src)"
        fi
    done
    # No route: counted, not forwarded.
    ip -n "$NS_A" route add 10.9.0.0/24 via 10.1.0.1
    udp "$NS_A" send 10.9.0.9 5003 --count 5 >/dev/null
    sleep 0.5
else
    bad "AF_PACKET: nothing forwarded within 30 s ($probe)"
    "${PODMAN[@]}" logs "$CT_AFP" 2>&1 | tail -20 | indent
fi

# The management socket from inside the container (cnfwdctl, as in an exec
# probe or `kubectl exec`).
if "${PODMAN[@]}" exec "$CT_AFP" cnfwdctl --json show drops >"$tmp/drops.json" 2>&1 &&
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); s = json.dumps(d); sys.exit(0 if "no_route" in s else 1)' "$tmp/drops.json"; then
    ok "cnfwdctl show drops (podman exec): the 5 datagrams to 10.9.0.9 counted as no_route"
else
    bad "cnfwdctl show drops (podman exec) did not report no_route"
    indent <"$tmp/drops.json"
fi

# HTTP on the metrics listener, from inside the pod's namespace (where the
# kubelet's probes would come from the pod's address).
http_get() {
    ip netns exec "$NS_POD" python3 - "$1" <<'EOF'
import sys, urllib.error, urllib.request
try:
    r = urllib.request.urlopen("http://127.0.0.1:9464" + sys.argv[1], timeout=5)
    print(r.status, r.read().decode(errors="replace")[:20000].replace("\n", "\\n"))
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode(errors="replace")[:200].replace("\n", "\\n"))
except Exception as e:
    print("error", e)
EOF
}
metrics=$(http_get /metrics)
if [[ $metrics == "200 "*cnfwd_port_* ]]; then
    ok "GET /metrics: 200, Prometheus text with cnfwd_port_* counters"
else
    bad "GET /metrics: ${metrics:0:200}"
fi
health_pending=()
for path in /healthz /readyz; do
    r=$(http_get "$path")
    case $r in
    "200 "*) ok "GET $path: 200 (${r:4:60})" ;;
    "404 "*) echo "skip  GET $path: 404 from this cnfwd (its health endpoints are not built yet); the manifests' probes use it"
        health_pending+=("$path") ;;
    *) bad "GET $path: ${r:0:200}" ;;
    esac
done
if "${PODMAN[@]}" exec "$CT_AFP" cnfwdctl health >"$tmp/health.log" 2>&1; then
    ok "cnfwdctl health (podman exec, as the DaemonSet's exec probe): $(head -c 100 "$tmp/health.log" | tr '\n' ' ')"
elif grep -q "unrecognized subcommand 'health'" "$tmp/health.log"; then
    echo "skip  cnfwdctl health: this cnfwdctl has no health command yet; the DaemonSet's exec probe uses it"
    health_pending+=("cnfwdctl health")
else
    bad "cnfwdctl health (podman exec)"
    indent <"$tmp/health.log"
fi

# Stop: podman sends the image's STOPSIGNAL (SIGTERM) to PID 1, cnfwd.
t0=$(date +%s.%N)
"${PODMAN[@]}" stop -t 30 "$CT_AFP" >/dev/null 2>&1 || true
t1=$(date +%s.%N)
code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$CT_AFP" 2>/dev/null || echo "?")
took=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
"${PODMAN[@]}" logs "$CT_AFP" >"$tmp/afp.log" 2>&1 || true
summary=$(grep -m1 'packets received' "$tmp/afp.log" || true)
if [ "$code" = 0 ] && python3 -c "import sys; sys.exit(0 if $took < 10 else 1)" && [ -n "$summary" ]; then
    ok "podman stop (SIGTERM to cnfwd as PID 1): exited 0 after $took s, printing its counters: ${summary#cnfwd: }"
else
    bad "podman stop: exit code $code after $took s (want 0 within 10 s and the summary printed)"
    tail -20 "$tmp/afp.log" | indent
fi

# --------------------------------------------------------------- (c) DPDK
say "(c) DPDK in the container: case 01 through net_pcap vdevs, EAL without hugepages"
case=pcap-tests/cases/01-l3-access-to-access
mkdir -p "$tmp/dpdk"
cp "$case"/in-*.pcap "$tmp/dpdk/"
{
    echo "[dpdk]"
    echo 'eal_args = ["--no-huge", "-m", "512", "--no-pci", "--no-shconf", "-l", "0"]'
    echo
    sed '/^\[\[ports\]\]/,$d' "$case/config.toml"
    # Each pcap port becomes a net_pcap vdev reading its input capture.
    python3 - "$case/config.toml" <<'EOF'
import sys, tomllib
cfg = tomllib.load(open(sys.argv[1], "rb"))
for i, p in enumerate(cfg["ports"]):
    dev = f"net_pcap{i}"
    if "rx_pcap" in p:
        dev += f",rx_pcap=/work/{p['rx_pcap']}"
    dev += f",tx_pcap=/work/out-{p['name']}.pcap"
    print("\n[[ports]]")
    for k in ("name", "mac", "mode"):
        print(f'{k} = "{p[k]}"')
    print('backend = "dpdk"')
    print(f'device = "{dev}"')
    if "networks" in p:
        print("networks = [" + ", ".join(f'"{n}"' for n in p["networks"]) + "]")
    if "trunked_network" in p:
        print(f'trunked_network = "{p["trunked_network"]}"')
EOF
} >"$tmp/dpdk/config.toml"
if run --network none --read-only -v "$tmp/dpdk:/work" "$IMAGE" \
    run --duration 3 --stats-interval 0 --config /work/config.toml --stats-json /work/stats.json \
    >"$tmp/dpdk.log" 2>&1 && compare_case "$case" "$tmp/dpdk" >"$tmp/cmp.log" 2>&1; then
    ok "DPDK: $(basename "$case") through net_pcap in the container: outputs and counters as expected"
else
    bad "DPDK: $(basename "$case") through net_pcap in the container"
    tail -20 "$tmp/dpdk.log" | indent
    indent <"$tmp/cmp.log" 2>/dev/null || true
fi

if [ ${#health_pending[@]} -gt 0 ]; then
    say "not checked (not in this cnfwd build yet): ${health_pending[*]}"
fi
say "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
