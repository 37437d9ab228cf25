#!/usr/bin/env bash
# cnfwd's main job on example traffic: builds cnfwd, writes the example
# traffic, replays it through examples/edge-site.toml, prints what was
# forwarded and dropped per port, network and reason, and writes the stats
# JSON and the output captures under examples/traffic/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo build --release --quiet --bin cnfwd
"$CNFWD_PYTHON" examples/make_traffic.py examples/traffic/workload-in.pcap
./target/release/cnfwd run --config examples/edge-site.toml --stats-json examples/traffic/stats.json
echo
echo "stats JSON: examples/traffic/stats.json; captures: examples/traffic/*-out.pcap"
